/** LEB128 encoders and a small `.eh_frame` assembler for tests. */
export function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}

export function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = ((n % 128) + 128) % 128;
    n = Math.floor(n / 128);
    const done = (n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0);
    out.push(done ? b : b | 0x80);
    if (done) return out;
  }
}

const u32le = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];

/** DW_CFA opcodes by name, for readable test programs. */
export const CFA = {
  advance: (d: number) => (d < 64 ? [0x40 | d] : [0x02, d]),
  offset: (reg: number, factored: number) => [0x80 | reg, ...uleb(factored)],
  restore: (reg: number) => [0xc0 | reg],
  defCfa: (reg: number, off: number) => [0x0c, ...uleb(reg), ...uleb(off)],
  defCfaRegister: (reg: number) => [0x0d, ...uleb(reg)],
  defCfaOffset: (off: number) => [0x0e, ...uleb(off)],
  defCfaExpression: (expr: number[]) => [0x0f, ...uleb(expr.length), ...expr],
  expression: (reg: number, expr: number[]) => [0x10, ...uleb(reg), ...uleb(expr.length), ...expr],
  undefined: (reg: number) => [0x07, ...uleb(reg)],
  register: (reg: number, from: number) => [0x09, ...uleb(reg), ...uleb(from)],
  remember: () => [0x0a],
  restoreState: () => [0x0b],
  argsSize: (n: number) => [0x2e, ...uleb(n)],
  nop: () => [0x00],
};

/** The x86-64 PLT CFA expression (threshold 11). */
export const PLT_EXPR = [0x77, 0x08, 0x80, 0x00, 0x3f, 0x1a, 0x3b, 0x2a, 0x33, 0x24, 0x22];
/** `DW_OP_breg6 -8; DW_OP_deref` (stack realignment). */
export const DRAP_EXPR = [0x76, ...sleb(-8), 0x06];

/**
 * Assembles CIEs and FDEs the way GCC writes them for x86-64 (`zR`, pcrel|sdata4 addresses,
 * code align 1, data align −8, RA column 16) unless told otherwise.
 */
export class EhFrameBuilder {
  private readonly bytes: number[] = [];

  constructor(readonly address: number) {}

  cie(opts: {
    instructions: number[];
    augmentation?: string;
    codeAlign?: number;
    dataAlign?: number;
    ra?: number;
    augData?: number[];
    version?: number;
  }): number {
    const offset = this.bytes.length;
    const aug = opts.augmentation ?? 'zR';
    const body = [
      ...u32le(0),
      opts.version ?? 1,
      ...[...aug].map((c) => c.charCodeAt(0)),
      0,
      ...uleb(opts.codeAlign ?? 1),
      ...sleb(opts.dataAlign ?? -8),
      opts.ra ?? 16,
    ];
    if (aug.startsWith('z')) {
      const data = opts.augData ?? [0x1b];
      body.push(...uleb(data.length), ...data);
    }
    body.push(...opts.instructions);
    while ((body.length + 4) % 8 !== 0) body.push(0);
    this.bytes.push(...u32le(body.length), ...body);
    return offset;
  }

  fde(cie: number, pcBegin: number, length: number, instructions: number[], opts: { augmentation?: boolean } = {}): number {
    const offset = this.bytes.length;
    const idPos = offset + 4;
    const pcField = idPos + 4;
    const rel = pcBegin - (this.address + pcField);
    const body = [...u32le(idPos - cie), ...u32le(rel >>> 0), ...u32le(length)];
    if (opts.augmentation ?? true) body.push(0);
    body.push(...instructions);
    while ((body.length + 4) % 8 !== 0) body.push(0);
    this.bytes.push(...u32le(body.length), ...body);
    return offset;
  }

  raw(b: number[]): void {
    this.bytes.push(...b);
  }

  build(terminate = true): Uint8Array {
    return Uint8Array.from(terminate ? [...this.bytes, 0, 0, 0, 0] : this.bytes);
  }
}

/** The CIE GCC writes for x86-64: CFA = rsp + 8, RA at CFA − 8. */
export const X86_CIE = [...CFA.defCfa(7, 8), ...CFA.offset(16, 1)];
