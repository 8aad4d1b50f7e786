// Drives smolmail with imapflow (npm), the IMAP library of Nodemailer's
// author used by many webmail and automation tools. It turns COMPRESS=DEFLATE
// on by itself when offered, ENABLEs QRESYNC when asked, and IDLEs between
// commands: each step prints one line `ok <what> <detail>` that
// tests/imapflow.rs checks; any failure prints `fail ...` and exits 1.
// Usage: node imapflow.js NODEDEPS PORT USER PASSWORD
'use strict';
const [nodedeps, port, user, pass] = process.argv.slice(2);
const { ImapFlow } = require(nodedeps + '/node_modules/imapflow');

const client = () => new ImapFlow({
    host: '127.0.0.1', port: Number(port), secure: false, doSTARTTLS: false,
    auth: { user, pass }, logger: false, qresync: true,
});
const say = (what, detail) => console.log(`ok ${what} ${detail}`);
const within = (ms, what, promise) => Promise.race([
    promise,
    new Promise((_, reject) => setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms)),
]);

async function main() {
    const a = client();
    await a.connect();
    if (!a._inflate) throw new Error('imapflow did not turn COMPRESS on');
    say('compress', 'DEFLATE');
    if (!a.enabled.has('QRESYNC')) throw new Error(`QRESYNC not enabled: ${[...a.enabled]}`);
    say('qresync', 'enabled');

    const msg = 'From: a@example.org\r\nSubject: flow\r\n\r\n' + 'compress me '.repeat(500) + '\r\n';
    await a.append('INBOX', msg, ['\\Seen']);
    await a.append('INBOX', msg.replace('flow', 'flow2'), []);
    const lock = await a.getMailboxLock('INBOX');
    try {
        const box = a.mailbox;
        say('select', `exists=${box.exists} highestModseq=${box.highestModseq}`);
        const got = await a.fetchOne('1', { source: true, envelope: true });
        if (!got.source.toString().includes('compress me compress me')) throw new Error('FETCH source wrong');
        say('fetch', `subject=${got.envelope.subject} bytes=${got.source.length}`);

        // A second session changes the mailbox while this one IDLEs under
        // COMPRESS: its EXISTS and the VANISHED (QRESYNC) must arrive
        // decoded at once, with this client sending nothing meanwhile.
        const exists = new Promise(resolve => a.on('exists', resolve));
        const vanished = new Promise(resolve => a.on('expunge', e => { if (e.vanished) resolve(e); }));
        const idling = a.idle();
        const b = client();
        await b.connect();
        const started = Date.now();
        await b.append('INBOX', msg.replace('flow', 'flow3'), []);
        const e = await within(5000, 'EXISTS during compressed IDLE', exists);
        say('idle-exists', `count=${e.count} ms=${Date.now() - started}`);
        await b.mailboxOpen('INBOX');
        await b.messageDelete('2', { uid: true });
        const v = await within(5000, 'VANISHED during compressed IDLE', vanished);
        say('idle-vanished', `uid=${v.uid}`);
        await b.logout();
        void idling;

        const changed = [];
        for await (const m of a.fetch('1:*', { flags: true }, { changedSince: 1n })) changed.push(m.uid);
        say('changedsince', `uids=${changed.join(',')}`);
    } finally {
        lock.release();
    }
    await a.logout();
}

main().catch(err => {
    console.log(`fail ${err && err.stack || err}`);
    process.exit(1);
});
