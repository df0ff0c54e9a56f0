/**
 * The deadlines of one SMTP session. smtp-server's socket timeout restarts with every byte, so a
 * client sending one byte every few seconds held a connection for ever (slowloris). Here the
 * client's time runs from each reply of ours to its next command, whatever it trickles in
 * meanwhile; DATA has a deadline for the whole phase and a least rate over every window. While
 * the server itself works (the delivery after the final dot) no clock runs.
 */
export interface SessionClockLimits {
  /** From each reply to the next command. */
  socketTimeoutMs: number;
  /** From the start of DATA to the final dot. */
  dataTimeoutMs: number;
  /** Bytes per second at least, over every `dataRateWindowMs` of DATA (0: no least rate). */
  minDataRate: number;
  dataRateWindowMs: number;
}

export type CutOff = 'command' | 'data' | 'rate';

export class SessionClock {
  private command: NodeJS.Timeout | undefined;
  private data: NodeJS.Timeout | undefined;
  private rate: NodeJS.Timeout | undefined;
  private bytesInWindow = 0;
  private inData = false;
  private stopped = false;

  constructor(
    private readonly limits: SessionClockLimits,
    private readonly expire: (why: CutOff) => void,
  ) {
    this.command = this.timer(limits.socketTimeoutMs, 'command');
  }

  /** A reply went out: the client's time for its next command starts now. */
  replied(): void {
    if (this.stopped || this.inData) return;
    if (this.command) this.command.refresh();
    else this.command = this.timer(this.limits.socketTimeoutMs, 'command');
  }

  dataStarted(): void {
    if (this.stopped) return;
    this.clear();
    this.inData = true;
    this.bytesInWindow = 0;
    this.data = this.timer(this.limits.dataTimeoutMs, 'data');
    if (this.limits.minDataRate > 0) {
      const needed = (this.limits.minDataRate * this.limits.dataRateWindowMs) / 1000;
      this.rate = setInterval(() => {
        if (this.bytesInWindow < needed) this.fire('rate');
        this.bytesInWindow = 0;
      }, this.limits.dataRateWindowMs);
      this.rate.unref();
    }
  }

  dataBytes(n: number): void {
    this.bytesInWindow += n;
  }

  /** The final dot arrived (or DATA failed): the server's turn, no clock until its reply. */
  dataEnded(): void {
    this.inData = false;
    this.clear();
  }

  stop(): void {
    this.stopped = true;
    this.clear();
  }

  private timer(ms: number, why: CutOff): NodeJS.Timeout {
    const t = setTimeout(() => this.fire(why), ms);
    t.unref();
    return t;
  }

  private fire(why: CutOff): void {
    if (this.stopped) return;
    this.stop();
    this.expire(why);
  }

  private clear(): void {
    clearTimeout(this.command);
    clearTimeout(this.data);
    clearInterval(this.rate);
    this.command = this.data = this.rate = undefined;
  }
}
