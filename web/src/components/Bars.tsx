/** Per-modality cosines (0..1 shown as a bar; null: the track has no such vector). */
export function SimilarityBars({ similarities }: { similarities: Record<string, number | null> }) {
  const entries = Object.entries(similarities);
  if (!entries.length) return null;
  return (
    <ul className="bars" aria-label="Similarity per modality">
      {entries.map(([name, value]) => (
        <li key={name}>
          <span className="bar-name">{name}</span>
          <span className="bar" aria-hidden="true">
            <span className="fill" style={{ width: `${Math.max(0, value ?? 0) * 100}%` }} />
          </span>
          <span className="bar-value">{value === null ? "none" : value.toFixed(2)}</span>
        </li>
      ))}
    </ul>
  );
}

/** The ranker's TreeSHAP contributions per signal, centred: right pushes the track up. */
export function ExplanationBars({ explanation }: { explanation: Record<string, number> }) {
  const signals = Object.entries(explanation)
    .filter(([name]) => name !== "base")
    .sort((a, b) => Math.abs(b[1]) - Math.abs(a[1]));
  const scale = Math.max(1e-9, ...signals.map(([, v]) => Math.abs(v)));
  return (
    <ul className="bars signals" aria-label="What moved the score, per signal">
      {signals.map(([name, value]) => (
        <li key={name}>
          <span className="bar-name">{LABELS[name] ?? name}</span>
          <span className="bar centred" aria-hidden="true">
            <span
              className={value >= 0 ? "fill up" : "fill down"}
              style={{ width: `${(Math.abs(value) / scale) * 50}%` }}
            />
          </span>
          <span className="bar-value">{`${value >= 0 ? "+" : "−"}${Math.abs(value).toFixed(2)}`}</span>
        </li>
      ))}
    </ul>
  );
}

/** Signal groups whose API name is not what a listener reads. */
const LABELS: Record<string, string> = {
  ease: "EASE",
  ials: "iALS",
  rp3beta: "RP3β",
  userknn: "similar listeners",
};

const WORDS: Record<string, string> = {
  lyrics: "lyrics like the history's",
  lyrics_terms: "shared lyric words",
  cover: "a cover like the history's",
  audio: "a similar sound",
  content: "the fused content match",
  collaborative: "listeners like this one (LightFM)",
  cooccurrence: "playlists that hold the same tracks",
  artist: "artists already in the history",
  ease: "tracks that complete such histories (EASE)",
  ials: "listeners with this taste (iALS)",
  rp3beta: "a walk through the playlists (RP3β)",
  userknn: "similar listeners",
  popularity: "popularity",
  context: "its year and the history's length",
};

/** The explanation in one sentence: the two strongest reasons for, the strongest against. */
export function whyLine(explanation: Record<string, number>): string {
  const signals = Object.entries(explanation).filter(([name]) => name !== "base");
  const up = signals.filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1]).slice(0, 2);
  const down = signals.filter(([, v]) => v < 0).sort((a, b) => a[1] - b[1])[0];
  const said = (name: string) => WORDS[name] ?? name;
  const parts = [];
  if (up.length) parts.push(`Recommended mostly for ${up.map(([n]) => said(n)).join(" and ")}`);
  else parts.push("No signal speaks for it strongly");
  if (down) parts.push(`held back by ${said(down[0])}`);
  return `${parts.join("; ")}.`;
}
