// Small building blocks: status badges, progress bars, error boxes, role-aware buttons, key/value lists,
// the table of a registry page.
import type { ButtonHTMLAttributes, ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { allowed, api, type Role } from '../api.ts';
import { duration } from '../util.ts';

export function Badge({ status }: { status: string }) {
  return <span class={`badge badge-${status}`}>{status}</span>;
}

export interface ProgressLike {
  percent?: number;
  stage?: string;
  epoch?: number;
  epochs?: number;
  etaSeconds?: number | null;
  samplesPerSec?: number;
  message?: string;
}

export function Progress({ progress, status }: { progress: ProgressLike | null | undefined; status: string }) {
  const p = Math.max(0, Math.min(100, progress?.percent ?? (status === 'succeeded' ? 100 : 0)));
  const parts = [`${Math.round(p)} %`];
  if (progress?.epochs) parts.push(`epoch ${progress.epoch ?? 0}/${progress.epochs}`);
  if (status === 'running' && progress?.etaSeconds != null) parts.push(`ETA ${duration(progress.etaSeconds)}`);
  if (status === 'running' && progress?.stage && !progress.epochs) parts.push(progress.stage);
  const label = parts.join(' · ');
  return (
    <div class="progress">
      <div class="progress-track" role="progressbar" aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(p)} aria-valuetext={label}>
        <div class={`progress-fill progress-${status}`} style={{ width: `${p}%` }} />
      </div>
      <span class="progress-label">{label}</span>
    </div>
  );
}

export function ErrorBox({ error }: { error: string | null | undefined }) {
  if (!error) return null;
  return (
    <p class="error" role="alert">
      {error}
    </p>
  );
}

/** A button disabled (and saying why) when the key's role is below `needs`. */
export function RoleButton({ needs, children, ...rest }: { needs: Role; children: ComponentChildren } & ButtonHTMLAttributes<HTMLButtonElement>) {
  const ok = allowed(needs);
  return (
    <button {...rest} disabled={!ok || (rest.disabled as boolean)} title={ok ? (rest.title as string) : `Needs an API key with role ${needs}`}>
      {children}
    </button>
  );
}

export function KV({ items }: { items: [string, ComponentChildren][] }) {
  return (
    <dl class="kv">
      {items.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>{v}</dd>
        </div>
      ))}
    </dl>
  );
}

export function Section({ title, children, id }: { title: string; children: ComponentChildren; id?: string }) {
  return (
    <section class="card" aria-labelledby={id ?? slug(title)}>
      <h2 id={id ?? slug(title)}>{title}</h2>
      {children}
    </section>
  );
}
const slug = (s: string) => 'h-' + s.toLowerCase().replace(/[^a-z0-9]+/g, '-');

/**
 * A page listing a registry (datasets, models): its heading, the load error, and a table of the items
 * as the API lists them, with one line in place of the rows once the list has loaded empty.
 */
export function ListPage<T>({
  title,
  label,
  columns,
  items,
  row,
  empty,
  error,
}: {
  title: string;
  /** The table's accessible name. */
  label: string;
  columns: string[];
  /** undefined until the list has loaded */
  items: T[] | undefined;
  /** One <tr> (with its key) per item. */
  row: (item: T) => ComponentChildren;
  empty: ComponentChildren;
  error: string | null | undefined;
}) {
  return (
    <main id="main" class="page">
      <h1>{title}</h1>
      <ErrorBox error={error} />
      <section class="card">
        <div class="scroll-x">
          <table class="list" aria-label={label}>
            <thead>
              <tr>
                {columns.map((c) => (
                  <th scope="col" key={c}>
                    {c}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {(items ?? []).map((item) => row(item))}
              {items?.length === 0 && (
                <tr>
                  <td colSpan={columns.length}>{empty}</td>
                </tr>
              )}
            </tbody>
          </table>
        </div>
      </section>
    </main>
  );
}

export function Json({ value }: { value: unknown }) {
  return <pre class="json">{JSON.stringify(value, null, 2)}</pre>;
}

/** An image from the API, fetched with the API key (an <img src> could not send it). */
export function ApiImage({ path, alt, class: cls }: { path: string; alt: string; class?: string }) {
  const [url, setUrl] = useState<string | null>(null);
  const [failed, setFailed] = useState<string | null>(null);
  useEffect(() => {
    let objectUrl: string | null = null;
    let live = true;
    fetch(path, { headers: api.headers() })
      .then(async (r) => {
        if (!r.ok) throw new Error(`HTTP ${r.status}`);
        objectUrl = URL.createObjectURL(await r.blob());
        if (live) setUrl(objectUrl);
      })
      .catch((e) => live && setFailed(`${alt}: ${(e as Error).message}`));
    return () => {
      live = false;
      if (objectUrl) URL.revokeObjectURL(objectUrl);
    };
  }, [path]);
  if (failed) return <p class="note">{failed}</p>;
  return url ? <img src={url} alt={alt} class={cls} /> : <p class="note">Loading {alt}…</p>;
}

/** A link that downloads an API file with the key. */
export function ApiDownload({ path, name, children }: { path: string; name: string; children: ComponentChildren }) {
  const go = async (e: Event) => {
    e.preventDefault();
    const r = await fetch(path, { headers: api.headers() });
    if (!r.ok) return alert(`${name}: HTTP ${r.status}`);
    const url = URL.createObjectURL(await r.blob());
    const a = document.createElement('a');
    a.href = url;
    a.download = name;
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  };
  return (
    <a href={path} onClick={go} download={name}>
      {children}
    </a>
  );
}
