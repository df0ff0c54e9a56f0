import { errorMessage } from '../core/index.js';
import { pop3 } from '../wire/index.js';
import { Pop3MessageGoneError, type Pop3Message } from './backend.js';
import type { SessionContext, SessionOutput } from './context.js';
import type { MaildropView } from './maildrop-view.js';

const { okLine, errLine } = pop3;

type Command = pop3.Pop3Command;
type Only<N extends Command['name']> = Extract<Command, { name: N }>;
export type TransactionCommand = Only<'STAT' | 'LIST' | 'UIDL' | 'RETR' | 'TOP' | 'DELE' | 'RSET' | 'NOOP' | 'QUIT'>;

/**
 * The TRANSACTION state (RFC 1939 section 5) and, after QUIT, the UPDATE state (section 6):
 * everything a logged-in client does with its maildrop snapshot.
 */
export class TransactionState {
  constructor(
    private readonly ctx: SessionContext,
    private readonly view: MaildropView,
    private readonly account: string,
    private readonly out: SessionOutput,
  ) {}

  handle(cmd: TransactionCommand): Promise<void> {
    switch (cmd.name) {
      case 'STAT': {
        const { count, size } = this.view.totals();
        return this.out.reply(okLine(`${count} ${size}`));
      }
      case 'LIST':
        return this.listing(cmd, (m) => String(m.size));
      case 'UIDL':
        return this.listing(cmd, (m) => m.uid);
      case 'RETR':
        return this.retr(cmd);
      case 'TOP':
        return this.top(cmd);
      case 'DELE':
        return this.dele(cmd);
      case 'RSET': {
        this.view.unmarkAll();
        const { count, size } = this.view.totals();
        return this.out.reply(okLine(`maildrop has ${count} messages (${size} octets)`));
      }
      case 'NOOP':
        return this.out.reply(okLine());
      case 'QUIT':
        return this.quit();
    }
  }

  /** The 0-based index for a message number, or undefined after answering -ERR. */
  private async pick(msg: number): Promise<number | undefined> {
    const found = this.view.lookup(msg);
    if ('error' in found) {
      await this.out.reply(errLine(found.error));
      return undefined;
    }
    return found.index;
  }

  private async listing(cmd: Only<'LIST'> | Only<'UIDL'>, value: (m: Pop3Message) => string): Promise<void> {
    if (cmd.msg !== undefined) {
      const found = this.view.lookup(cmd.msg);
      return this.out.reply('error' in found ? errLine(found.error) : okLine(`${cmd.msg} ${value(found.message)}`));
    }
    const { count, size } = this.view.totals();
    const first = cmd.name === 'LIST' ? okLine(`${count} messages (${size} octets)`) : okLine(`${count} messages`);
    // Each line starts with its message number: never a dot to stuff, and a UID (0x21–0x7E)
    // or a size has no line end; so the listing is one string, built once.
    let body = '';
    this.view.forEachVisible((msg, m) => (body += `${msg} ${value(m)}\r\n`));
    return this.out.reply(`${first}${body}.\r\n`);
  }

  /** Fetches message content, answering -ERR itself when it cannot be had. */
  private async fetch<T>(msg: number, get: () => Promise<T>): Promise<T | undefined> {
    try {
      return await get();
    } catch (err) {
      if (err instanceof Pop3MessageGoneError) {
        await this.out.reply(errLine(`message ${msg} was removed by another session`));
      } else {
        this.ctx.log.warn({ err: errorMessage(err), session: this.ctx.id, account: this.account, msgno: msg }, 'pop3 cannot read message');
        this.out.count('errors', { kind: 'backend' });
        await this.out.reply(errLine(`cannot read message ${msg} now, try again later`, 'SYS/TEMP'));
      }
      return undefined;
    }
  }

  private async retr(cmd: Only<'RETR'>): Promise<void> {
    const i = await this.pick(cmd.msg);
    if (i === undefined) return;
    const md = this.view.maildrop;
    const size = md.messages[i]!.size;
    if (md.retrieveStream && size > this.ctx.limits.streamAboveBytes) {
      const source = await this.fetch(cmd.msg, () => md.retrieveStream!(i));
      if (!source) return;
      await this.out.bodyStream(okLine(`${size} octets`), source, { account: this.account, msgno: cmd.msg });
      this.out.count('retrieved');
      return;
    }
    const data = await this.fetch(cmd.msg, () => md.retrieve(i));
    if (!data) return;
    await this.out.body(okLine(`${data.length} octets`), data);
    this.out.count('retrieved');
  }

  private async top(cmd: Only<'TOP'>): Promise<void> {
    const i = await this.pick(cmd.msg);
    if (i === undefined) return;
    const md = this.view.maildrop;
    const data = await this.fetch(cmd.msg, async () => (md.top ? md.top(i, cmd.lines) : pop3.extractTop(await md.retrieve(i), cmd.lines)));
    if (!data) return;
    await this.out.body(okLine('top of message follows'), data);
  }

  private async dele(cmd: Only<'DELE'>): Promise<void> {
    const i = await this.pick(cmd.msg);
    if (i === undefined) return;
    this.view.markDeleted(i);
    return this.out.reply(okLine(`message ${cmd.msg} deleted`));
  }

  /** QUIT: the UPDATE state. Only here are messages removed. */
  private async quit(): Promise<void> {
    const deleted = this.view.deletedIndexes();
    try {
      await this.view.maildrop.commit(deleted);
    } catch (err) {
      this.ctx.log.error({ err, session: this.ctx.id, account: this.account }, 'pop3 commit failed');
      this.out.count('errors', { kind: 'backend' });
      return this.out.finish(errLine('some deleted messages not removed', 'SYS/TEMP'));
    }
    this.out.count('deleted', {}, deleted.length);
    const left = this.view.maildrop.messages.length - deleted.length;
    this.out.finish(okLine(`${this.ctx.hostname} POP3 server signing off (${left} messages left)`));
  }
}
