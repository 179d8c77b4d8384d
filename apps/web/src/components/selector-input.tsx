import { useEffect, useId, useRef, useState } from 'react';
import { applyCompletion, contextAt, withoutLabel, type SelectorContext } from '../model/selector';

interface Props {
  value: string;
  onChange: (v: string) => void;
  onSubmit: (v: string) => void;
  labelNames: (signal: AbortSignal) => Promise<string[]>;
  labelValues: (name: string, selector: string, signal: AbortSignal) => Promise<string[]>;
  label?: string;
}

/**
 * The label selector as PromQL-style text with autocomplete of label names and values (an
 * ARIA combobox: ↑/↓ to choose, Enter or Tab to take, Esc to close, Enter with the list closed
 * runs the query).
 */
export function SelectorInput({ value, onChange, onSubmit, labelNames, labelValues, label = 'Label selector' }: Props) {
  const id = useId();
  const input = useRef<HTMLInputElement>(null);
  const [ctx, setCtx] = useState<SelectorContext>({ kind: 'none' });
  const [options, setOptions] = useState<string[]>([]);
  const [active, setActive] = useState(0);
  const [open, setOpen] = useState(false);
  const cache = useRef(new Map<string, Promise<string[]>>());
  const fns = useRef({ labelNames, labelValues });
  fns.current = { labelNames, labelValues };

  const refresh = (text: string, caret: number): void => {
    const c = contextAt(text, caret);
    setCtx(c);
    setOpen(c.kind !== 'none');
  };

  useEffect(() => {
    if (ctx.kind === 'none') return;
    const ctl = new AbortController();
    const key = ctx.kind === 'name' ? 'names' : `values:${ctx.label}:${withoutLabel(value, ctx.label)}`;
    let p = cache.current.get(key);
    if (!p) {
      p = ctx.kind === 'name' ? fns.current.labelNames(ctl.signal) : fns.current.labelValues(ctx.label, withoutLabel(value, ctx.label), ctl.signal);
      p.catch(() => cache.current.delete(key));
      cache.current.set(key, p);
    }
    const partial = ctx.partial.toLowerCase();
    p.then(
      (all) => {
        if (ctl.signal.aborted) return;
        const starts = all.filter((o) => o.toLowerCase().startsWith(partial));
        const contains = all.filter((o) => !o.toLowerCase().startsWith(partial) && o.toLowerCase().includes(partial));
        setOptions([...starts, ...contains].slice(0, 50));
        setActive(0);
      },
      () => setOptions([]),
    );
    return () => ctl.abort();
  }, [ctx, value]);

  // Cached names/values go stale when the data does; a new query clears them.
  useEffect(() => cache.current.clear(), [labelNames]);

  const take = (choice: string): void => {
    const el = input.current;
    if (!el) return;
    const r = applyCompletion(value, el.selectionStart ?? value.length, ctx, choice);
    onChange(r.text);
    requestAnimationFrame(() => {
      el.setSelectionRange(r.caret, r.caret);
      refresh(r.text, r.caret);
    });
  };

  const shown = open && options.length > 0;
  return (
    <div className="combo">
      <input
        ref={input}
        className="mono"
        role="combobox"
        aria-label={label}
        aria-autocomplete="list"
        aria-expanded={shown}
        aria-controls={`${id}-list`}
        aria-activedescendant={shown ? `${id}-opt-${active}` : undefined}
        spellCheck={false}
        autoComplete="off"
        value={value}
        placeholder='{label="value", other=~"regex.*"}'
        onChange={(e) => {
          onChange(e.target.value);
          refresh(e.target.value, e.target.selectionStart ?? e.target.value.length);
        }}
        onClick={(e) => refresh(value, e.currentTarget.selectionStart ?? value.length)}
        onFocus={(e) => refresh(value, e.currentTarget.selectionStart ?? value.length)}
        onBlur={() => setTimeout(() => setOpen(false), 150)}
        onKeyDown={(e) => {
          if (shown && e.key === 'ArrowDown') {
            e.preventDefault();
            setActive((a) => (a + 1) % options.length);
          } else if (shown && e.key === 'ArrowUp') {
            e.preventDefault();
            setActive((a) => (a - 1 + options.length) % options.length);
          } else if (shown && (e.key === 'Enter' || e.key === 'Tab') && options[active] !== undefined) {
            e.preventDefault();
            take(options[active]);
          } else if (e.key === 'Escape') {
            setOpen(false);
          } else if (e.key === 'Enter') {
            e.preventDefault();
            setOpen(false);
            onSubmit(value);
          }
        }}
      />
      {shown && (
        <ul id={`${id}-list`} role="listbox" className="listbox" aria-label={ctx.kind === 'name' ? 'Label names' : 'Label values'}>
          {options.map((o, i) => (
            <li
              key={o}
              id={`${id}-opt-${i}`}
              role="option"
              aria-selected={i === active}
              className={i === active ? 'active' : undefined}
              onMouseDown={(e) => {
                e.preventDefault();
                take(o);
              }}
            >
              {o || '(empty)'}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
