// Reading a server-sent event stream over real HTTP in tests.
export interface SseEvent {
  id?: string;
  event: string;
  data: any;
}

/**
 * Opens `url` and calls `onEvent` for each event as it arrives (comments are counted, not passed);
 * resolves when the server ends the stream, or when `onEvent` returns true (the client then hangs up).
 */
export async function readSse(url: string, headers: Record<string, string>, onEvent: (e: SseEvent) => boolean | undefined) {
  const abort = new AbortController();
  const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: abort.signal });
  const decoder = new TextDecoder();
  let buffer = '';
  let comments = 0;
  let hungUp = false;
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      for (let cut = buffer.indexOf('\n\n'); cut >= 0; cut = buffer.indexOf('\n\n')) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        if (block.startsWith(':')) {
          comments++;
          continue;
        }
        const field = (name: string) => new RegExp(`^${name}: (.*)$`, 'm').exec(block)?.[1];
        if (onEvent({ id: field('id'), event: field('event') ?? 'message', data: JSON.parse(field('data') ?? 'null') })) {
          hungUp = true;
          abort.abort();
          break;
        }
      }
      if (hungUp) break;
    }
  } catch (err) {
    if (!abort.signal.aborted) throw err;
  }
  return { status: res.status, headers: res.headers, comments, hungUp };
}
