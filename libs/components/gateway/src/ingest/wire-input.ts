import type { DescMessage, DescMethod, DescService } from '@bufbuild/protobuf';

/**
 * A copy of `service` whose method `localName` decodes its request as `wire` instead: a message
 * with the same field numbers that keeps the big embedded messages as bytes. Connect routes by
 * the service and method names, which do not change; clients see the public contract.
 */
export function withWireInput<S extends DescService>(service: S, localName: string, wire: DescMessage): S {
  const original = service.methods.find((m) => m.localName === localName);
  if (!original) throw new Error(`${service.typeName} has no method ${localName}`);
  const copy = { ...service } as S & { methods: DescMethod[]; method: Record<string, DescMethod> };
  const method = { ...original, input: wire, parent: copy } as DescMethod;
  copy.methods = service.methods.map((m) => (m === original ? method : m));
  copy.method = { ...service.method, [localName]: method };
  return copy;
}
