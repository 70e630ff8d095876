import { useQueries, useQuery } from "@tanstack/react-query";
import { useParams } from "react-router-dom";
import { api, MODALITIES, unwrap, type Modality } from "../api/client";
import { ErrorMessage, Spinner } from "../components/Status";
import { Cover, TrackCard } from "../components/TrackCard";

type View = { label: string; only: Modality | null };
// One list per modality (the others weighted 0), then all of them fused.
const VIEWS: View[] = [
  ...MODALITIES.map((m) => ({ label: m, only: m })),
  { label: "fused", only: null },
];

const weightsFor = (only: Modality | null) =>
  Object.fromEntries(MODALITIES.map((m) => [m, only === null || only === m ? 1 : 0]));

export function TrackPage() {
  const id = useParams().id ?? "";
  const track = useQuery({
    queryKey: ["track", id],
    queryFn: () => unwrap(api.GET("/tracks/{track_id}", { params: { path: { track_id: id } } })),
  });
  const nearest = useQueries({
    queries: VIEWS.map((view) => ({
      queryKey: ["nearest", id, view.label],
      enabled: track.isSuccess,
      queryFn: () =>
        unwrap(
          api.POST("/recommendations", {
            body: { positive: [id], weights: weightsFor(view.only), limit: 5 },
          }),
        ),
    })),
  });

  if (track.isPending) return <Spinner label="Loading the track…" />;
  if (track.error) return <ErrorMessage error={track.error} />;
  const t = track.data;
  const stored: [string, unknown][] = [
    ["id", t.id],
    ["artists", (t.artists ?? []).join(", ")],
    ["album", t.album_name],
    ["year", t.year],
    ["release date", t.release_date],
    ["genre", t.genre],
    ["popularity", t.popularity],
    ["explicit", t.explicit === null || t.explicit === undefined ? null : t.explicit ? "yes" : "no"],
    ["has lyrics", t.has_lyrics ? "yes" : "no"],
    ["cover URL", t.album_url],
  ];
  return (
    <article className="track-page">
      <header className="track-head">
        <Cover track={t} />
        <div>
          <h2>{t.name || t.id}</h2>
          <dl className="stored" aria-label="Stored metadata">
            {stored
              .filter(([, v]) => v !== null && v !== undefined && v !== "")
              .map(([k, v]) => (
                <div key={k}>
                  <dt>{k}</dt>
                  <dd>{String(v)}</dd>
                </div>
              ))}
          </dl>
        </div>
      </header>
      <h2>Nearest tracks</h2>
      <div className="nearest">
        {VIEWS.map((view, i) => {
          const q = nearest[i];
          return (
            <section key={view.label} aria-label={`Nearest by ${view.label}`}>
              <h3>{view.label === "fused" ? "All modalities fused" : `By ${view.label}`}</h3>
              {q?.isFetching ? <Spinner /> : null}
              <ErrorMessage error={q?.error} />
              {q?.data ? (
                q.data.modalities.length ? (
                  <ul className="grid compact">
                    {q.data.items.map((item) => (
                      <TrackCard key={item.track.id} item={item} />
                    ))}
                  </ul>
                ) : (
                  <p className="note">This track has no {view.label} vector.</p>
                )
              ) : null}
            </section>
          );
        })}
      </div>
    </article>
  );
}
