import type { ScopedVars } from '@grafana/data';

export interface TestVariable {
  name: string;
  /** A string for a single value, an array for a multi-value selection. */
  current: string | string[];
  multi?: boolean;
  includeAll?: boolean;
}

type Formatter = (value: string | string[], variable: TestVariable, fallback: (v: string | string[]) => string) => string;

/**
 * Stands in for Grafana's TemplateSrv (`getTemplateSrv()`) in tests: `$name`, `${name}` and
 * `[[name]]` are replaced from scoped variables first, then dashboard variables; a format
 * function gets the value (an array for multi-value variables) and the variable, as in Grafana.
 */
export class TestTemplateSrv {
  readonly calls: Array<{ target: string; result: string }> = [];

  constructor(private readonly variables: TestVariable[] = []) {}

  getVariables(): TestVariable[] {
    return this.variables;
  }

  containsTemplate(target?: string): boolean {
    return Boolean(target && /\$\w+|\$\{\w+\}|\[\[\w+\]\]/.test(target));
  }

  updateTimeRange(): void {}

  replace(target?: string, scopedVars?: ScopedVars, format?: string | Formatter): string {
    if (!target) return target ?? '';
    const result = target.replace(/\$(\w+)|\$\{(\w+)\}|\[\[(\w+)\]\]/g, (all, a?: string, b?: string, c?: string) => {
      const name = a ?? b ?? c ?? '';
      const scoped = scopedVars?.[name];
      const variable: TestVariable | undefined = scoped ? { name, current: String(scoped.value) } : this.variables.find((v) => v.name === name);
      if (!variable) return all;
      const fallback = (v: string | string[]) => (Array.isArray(v) ? (v.length > 1 ? `{${v.join(',')}}` : (v[0] ?? '')) : v);
      if (typeof format === 'function') return format(variable.current, variable, fallback);
      if (format === 'csv') return Array.isArray(variable.current) ? variable.current.join(',') : variable.current;
      return fallback(variable.current);
    });
    this.calls.push({ target, result });
    return result;
  }
}
