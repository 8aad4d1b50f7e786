// Drives smolmail with imapflow (npm) in IMAP4rev2: imapflow ENABLEs
// IMAP4rev2 by itself when both revisions are advertised, then expects
// ESEARCH for every SEARCH, UTF-8 mailbox names, no \Recent and no LSUB.
// Each step prints `ok <what> <detail>` for tests/imap_rev2.rs; a failure
// prints `fail ...` and exits 1.
// Usage: node imapflow_rev2.js NODEDEPS PORT USER PASSWORD
'use strict';
const [nodedeps, port, user, pass] = process.argv.slice(2);
const { ImapFlow } = require(nodedeps + '/node_modules/imapflow');

const say = (what, detail) => console.log(`ok ${what} ${detail}`);

async function main() {
    const a = new ImapFlow({
        host: '127.0.0.1', port: Number(port), secure: false, doSTARTTLS: false,
        auth: { user, pass }, logger: false,
    });
    await a.connect();
    if (!a.enabled.has('IMAP4REV2')) throw new Error(`IMAP4rev2 not enabled: ${[...a.enabled]}`);
    say('enabled', 'IMAP4rev2');

    await a.mailboxCreate('Entwürfe');
    const names = (await a.list()).map(m => m.path);
    if (!names.includes('Entwürfe')) throw new Error(`LIST: ${names}`);
    say('list-utf8', 'Entwürfe');

    for (const s of ['one', 'two', 'three two']) {
        await a.append('Entwürfe', `From: a@example.org\r\nSubject: ${s}\r\n\r\nbody\r\n`, []);
    }
    const st = await a.status('Entwürfe', { messages: true, unseen: true });
    say('status', `messages=${st.messages} unseen=${st.unseen}`);

    const lock = await a.getMailboxLock('Entwürfe');
    try {
        const uids = await a.search({ subject: 'two' }, { uid: true });
        say('esearch', `uids=${uids.join(',')}`);
        const flags = [];
        for await (const m of a.fetch('1:*', { flags: true })) flags.push(...m.flags);
        if (flags.includes('\\Recent')) throw new Error(`\\Recent in rev2: ${flags}`);
        say('no-recent', `flags=${flags.length}`);
        await a.messageMove('1', 'INBOX', { uid: true });
        say('move', `exists=${a.mailbox.exists}`);
    } finally {
        lock.release();
    }
    await a.logout();
}

main().catch(e => {
    console.log(`fail ${e.stack || e}`);
    process.exit(1);
});
