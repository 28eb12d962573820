// Formatting and small hooks shared by the pages.
import { useEffect, useRef, useState } from 'preact/hooks';
import { errorText } from './api.ts';

export const pct = (v: number | null | undefined, digits = 1) => (v == null ? '–' : `${(v * 100).toFixed(digits)} %`);
export const num = (v: number | null | undefined, digits = 4) => (v == null ? '–' : Number(v.toFixed(digits)).toString());
export const short = (id: string) => id.slice(0, 8);
export const when = (iso: string | null | undefined) => (iso ? new Date(iso).toLocaleString() : '–');
export function duration(s: number | null | undefined): string {
  if (s == null || !Number.isFinite(s)) return '–';
  s = Math.max(0, Math.round(s));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}
export const bytes = (n: number) => (n < 1024 ? `${n} B` : n < 1048576 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1048576).toFixed(1)} MiB`);

export interface Loaded<T> {
  data: T | undefined;
  error: string | null;
  reload: () => void;
  set: (d: T | ((old: T | undefined) => T)) => void;
}

/** Loads with `fn` when `deps` change, and again every `everyMs` while `keepPolling(data)` holds. */
export function useLoad<T>(fn: () => Promise<T>, deps: unknown[], everyMs = 0, keepPolling: (d: T | undefined) => boolean = () => true): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  const latest = useRef(0);
  useEffect(() => {
    const n = ++latest.current;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = async () => {
      try {
        const d = await fn();
        if (n !== latest.current) return;
        setData(d);
        setError(null);
        if (everyMs && keepPolling(d)) timer = setTimeout(run, everyMs);
      } catch (err) {
        if (n !== latest.current) return;
        setError(errorText(err));
        if (everyMs) timer = setTimeout(run, everyMs * 2);
      }
    };
    void run();
    return () => {
      latest.current++;
      clearTimeout(timer);
    };
  }, [...deps, tick]);
  return { data, error, reload: () => setTick((t) => t + 1), set: setData as Loaded<T>['set'] };
}

export function useTitle(title: string) {
  useEffect(() => {
    document.title = `${title} · mnist-jobs`;
  }, [title]);
}
