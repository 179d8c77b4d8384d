import { Scope, issueToken, writeTokenFile } from '@firn/tenancy';

/** Writes a tokens file (FIRN_TOKENS_FILE) with one read+write token per tenant; returns the tokens. */
export async function makeTokens(file: string, tenants: string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const records = [];
  for (const t of tenants) {
    const issued = issueToken(t, [Scope.WriteProfiles, Scope.ReadProfiles]);
    out[t] = issued.token;
    records.push(issued.record);
  }
  await writeTokenFile(file, records);
  return out;
}
