import { describe, expect, it } from 'vitest';
import { byteSize, byteSizeOrOff, parseByteSize } from './byte-size';

describe('parseByteSize', () => {
  it('reads binary and decimal units and bare bytes', () => {
    expect(parseByteSize('256MiB')).toBe(256 * 1024 * 1024);
    expect(parseByteSize('64MB')).toBe(64e6);
    expect(parseByteSize('1gib')).toBe(1024 ** 3);
    expect(parseByteSize(' 1.5 KiB ')).toBe(1536);
    expect(parseByteSize('4096')).toBe(4096);
  });

  it('refuses anything else, naming the value', () => {
    for (const bad of ['', 'MiB', '12 parsecs', '-5MiB', '1e400']) expect(() => parseByteSize(bad)).toThrow(/not a size/);
  });
});

describe('byteSize', () => {
  it('parses a setting and refuses zero', () => {
    expect(byteSize.parse('8MiB')).toBe(8 * 1024 * 1024);
    expect(byteSize.safeParse('0').success).toBe(false);
    expect(byteSize.safeParse('lots').error?.issues[0].message).toMatch(/512MiB/);
  });
});

describe('byteSizeOrOff', () => {
  it('takes 0 as off and refuses what is not a size', () => {
    expect(byteSizeOrOff.parse('0')).toBe(0);
    expect(byteSizeOrOff.parse('128MiB')).toBe(128 * 1024 * 1024);
    expect(byteSizeOrOff.safeParse('-1').success).toBe(false);
  });
});
