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

        // BINARY (RFC 3516): APPEND of a message with a NUL goes as literal8
        // (imapflow's choice) and keeps it; a base64 part comes decoded.
        const nul = Buffer.from('Subject: nul\r\n\r\na\x00b\r\n', 'latin1');
        const put = await a.append('INBOX', nul, []);
        const back = await a.fetchOne(String(put.uid), { source: true }, { uid: true });
        if (!back.source.equals(nul)) throw new Error(`NUL not kept: ${JSON.stringify(back.source)}`);
        say('binary-append', `nul-kept uid=${put.uid}`);
        const mixed = 'Subject: parts\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n' +
            '--B\r\nContent-Type: text/plain\r\n\r\nhi\r\n--B\r\nContent-Type: application/octet-stream\r\n' +
            'Content-Transfer-Encoding: base64\r\n\r\nAAECAwRoZWxsbw==\r\n--B--\r\n';
        const parts = await a.append('INBOX', mixed, []);
        const part = await a.fetchOne(String(parts.uid), { bodyParts: ['2'] }, { uid: true, binary: true });
        const want = Buffer.from([0, 1, 2, 3, 4, 104, 101, 108, 108, 111]);
        if (!part.binaryParts || !part.binaryParts.has('2')) throw new Error('part 2 did not come through FETCH BINARY');
        if (!part.bodyParts.get('2').equals(want)) throw new Error(`BINARY[2] wrong: ${part.bodyParts.get('2').toString('hex')}`);
        say('binary-fetch', `bytes=${part.bodyParts.get('2').length}`);
    } finally {
        lock.release();
    }
    await a.logout();
}

main().catch(err => {
    console.log(`fail ${err && err.stack || err}`);
    process.exit(1);
});
