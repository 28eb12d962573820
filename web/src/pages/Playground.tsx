// Playground: draw a digit (mouse, pen or finger) or upload an image; every stroke is predicted
// through /v1/predict with the chosen model, shown as class probabilities next to the 28×28 input.
import { useEffect, useRef, useState } from 'preact/hooks';
import { allowed, api, call, errorText } from '../api.ts';
import { Bars, DigitImage } from '../components/charts.tsx';
import { ErrorBox, Section } from '../components/ui.tsx';
import { toMnistPixels } from '../mnist.ts';
import { pct, short, useLoad, useTitle } from '../util.ts';

const SIZE = 280;
const WORKING = 1024; // uploads are shrunk to fit this, as the server does

/** What POST /v1/predict answers (src/serving/answer.ts): per input the class, the probabilities, the
 * confidence (the top probability, temperature-scaled) and lowConfidence (under PREDICT_LOW_CONFIDENCE). */
type Answer = Awaited<ReturnType<typeof predictOne>>;
const predictOne = (model: string, px: Float32Array) =>
  call(api.POST('/v1/predict', { body: { model, inputs: [Array.from(px, (v) => Math.round(v * 1e4) / 1e4)] } }));

export function PlaygroundPage() {
  useTitle('Playground');
  const canvas = useRef<HTMLCanvasElement>(null);
  const drawing = useRef(false);
  const last = useRef<[number, number] | null>(null);
  const seq = useRef(0);
  const [model, setModel] = useState('latest');
  const [pixels, setPixels] = useState<Float32Array | null>(null);
  const [answer, setAnswer] = useState<Answer | null>(null);
  const [error, setError] = useState<string | null>(null);
  const models = useLoad(() => call(api.GET('/v1/models', { params: { query: { limit: 100 } } })), []);
  const mayPredict = allowed('predict');

  const clear = () => {
    const ctx = canvas.current!.getContext('2d')!;
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, SIZE, SIZE);
    setPixels(null);
    setAnswer(null);
    setError(null);
  };
  useEffect(clear, []);

  const predict = async (px: Float32Array | null) => {
    setPixels(px);
    if (!px) {
      setAnswer(null);
      setError('No digit found: draw a bit more.');
      return;
    }
    const n = ++seq.current;
    try {
      const res = await predictOne(model, px);
      if (n === seq.current) {
        setAnswer(res);
        setError(null);
      }
    } catch (err) {
      if (n === seq.current) setError(errorText(err));
    }
  };
  // A new model choice re-predicts what is on the canvas.
  useEffect(() => {
    if (pixels) void predict(pixels);
  }, [model]);

  const pos = (e: PointerEvent): [number, number] => {
    const r = canvas.current!.getBoundingClientRect();
    return [((e.clientX - r.left) * SIZE) / r.width, ((e.clientY - r.top) * SIZE) / r.height];
  };
  const stroke = (to: [number, number]) => {
    const ctx = canvas.current!.getContext('2d')!;
    ctx.strokeStyle = '#fff';
    ctx.fillStyle = '#fff';
    ctx.lineWidth = 20;
    ctx.lineCap = 'round';
    ctx.lineJoin = 'round';
    const from = last.current ?? to;
    ctx.beginPath();
    ctx.moveTo(from[0], from[1]);
    ctx.lineTo(to[0], to[1]);
    ctx.stroke();
    last.current = to;
  };
  const down = (e: PointerEvent) => {
    e.preventDefault();
    canvas.current!.setPointerCapture(e.pointerId);
    drawing.current = true;
    last.current = null;
    stroke(pos(e));
  };
  const move = (e: PointerEvent) => drawing.current && stroke(pos(e));
  const up = () => {
    if (!drawing.current) return;
    drawing.current = false;
    last.current = null;
    if (mayPredict) void predict(toMnistPixels(canvas.current!, SIZE, SIZE));
  };

  const upload = async (e: Event) => {
    const file = (e.currentTarget as HTMLInputElement).files?.[0];
    if (!file) return;
    try {
      const bmp = await createImageBitmap(file);
      const s = Math.min(1, WORKING / Math.max(bmp.width, bmp.height));
      const w = Math.max(1, Math.round(bmp.width * s));
      const h = Math.max(1, Math.round(bmp.height * s));
      const ctx = canvas.current!.getContext('2d')!;
      ctx.fillStyle = '#000';
      ctx.fillRect(0, 0, SIZE, SIZE);
      const f = Math.min(SIZE / w, SIZE / h);
      ctx.drawImage(bmp, (SIZE - w * f) / 2, (SIZE - h * f) / 2, w * f, h * f);
      await predict(toMnistPixels(bmp, w, h));
    } catch (err) {
      setError(`That file could not be read as an image: ${(err as Error).message}`);
    }
  };

  const p = answer?.predictions[0];
  const aliases = [...new Set((models.data?.items ?? []).flatMap((m) => m.aliases))].sort();
  return (
    <main id="main" class="page">
      <h1>Playground</h1>
      {!mayPredict && <p class="note">Your key's role may not call /v1/predict.</p>}
      <div class="grid-2 playground">
        <Section title="Draw a digit">
          <div class="field">
            <label for="model-pick">Model</label>
            <select id="model-pick" name="model" value={model} onChange={(e) => setModel(e.currentTarget.value)}>
              <option value="latest">latest (newest model)</option>
              {aliases.length > 0 && (
                <optgroup label="Aliases">
                  {aliases.map((a) => (
                    <option key={a} value={a}>
                      {a}
                    </option>
                  ))}
                </optgroup>
              )}
              <optgroup label="Models">
                {(models.data?.items ?? []).map((m) => (
                  <option key={m.id} value={m.id}>
                    {short(m.id)} · {m.architecture} · {pct((m.metrics as any)?.test?.accuracy, 2)}
                  </option>
                ))}
              </optgroup>
            </select>
          </div>
          <canvas
            ref={canvas}
            width={SIZE}
            height={SIZE}
            class="pad"
            aria-label="Drawing area: draw a digit with the mouse, a pen or a finger; it is predicted after every stroke. Or upload an image below."
            onPointerDown={down}
            onPointerMove={move}
            onPointerUp={up}
            onPointerCancel={up}
          />
          <div class="row">
            <button type="button" class="secondary" onClick={clear}>
              Clear
            </button>
            <label class="file">
              Upload an image <input type="file" accept="image/png,image/jpeg" onChange={upload} disabled={!mayPredict} />
            </label>
          </div>
        </Section>
        <Section title="Prediction">
          <ErrorBox error={error} />
          {p ? (
            <>
              <p class="big" aria-live="polite">
                <span data-testid="predicted-class">{p.class}</span> <small data-testid="confidence">{pct(p.confidence, 1)} confident</small>
              </p>
              {p.lowConfidence && (
                <p class="warn-box" role="status">
                  <strong>Low confidence</strong>: under the service's threshold, so probably not a digit this model knows. Draw it larger and
                  centred, with one clear stroke per line.
                </p>
              )}
              <p class="note">model {short(answer!.modelId)}</p>
              <Bars label="Class probabilities" items={p.probabilities.map((v, i) => ({ label: String(i), value: v }))} highlight={p.class} format={(v) => pct(v, 1)} />
            </>
          ) : (
            !error && <p class="note">Draw a digit: the prediction follows every stroke.</p>
          )}
          {pixels && (
            <figure>
              <DigitImage pixels={pixels} size={112} label="The 28×28 image the model saw" />
              <figcaption>What the model saw (28×28)</figcaption>
            </figure>
          )}
        </Section>
      </div>
    </main>
  );
}
