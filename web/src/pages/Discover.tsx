import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import {
  api,
  MODALITIES,
  unwrap,
  type Item,
  type Modality,
  type Schemas,
} from "../api/client";
import { Filters, NO_FILTERS, toFilters, toQuery, type FilterState } from "../components/Filters";
import { ErrorMessage, Spinner } from "../components/Status";
import { TrackCard } from "../components/TrackCard";

type Mode = "lyrics" | "cover" | "image";
type Search = { mode: "lyrics" | "cover"; q: string } | { mode: "image"; file: File };
type Seed = { id: string; name: string };

function SeedButtons({
  item,
  liked,
  disliked,
  toggle,
}: {
  item: Item;
  liked: boolean;
  disliked: boolean;
  toggle: (item: Item, list: "positive" | "negative") => void;
}) {
  const name = item.track.name || item.track.id;
  return (
    <>
      <button
        type="button"
        aria-pressed={liked}
        aria-label={`Like: ${name}`}
        onClick={() => toggle(item, "positive")}
      >
        ♥ Like
      </button>
      <button
        type="button"
        aria-pressed={disliked}
        aria-label={`Not like this: ${name}`}
        onClick={() => toggle(item, "negative")}
      >
        ✕ Not like this
      </button>
    </>
  );
}

export function Discover() {
  const [mode, setMode] = useState<Mode>("lyrics");
  const [text, setText] = useState("");
  const [file, setFile] = useState<File | null>(null);
  const [search, setSearch] = useState<Search | null>(null);
  const [filters, setFilters] = useState<FilterState>(NO_FILTERS);
  const [positive, setPositive] = useState<Seed[]>([]);
  const [negative, setNegative] = useState<Seed[]>([]);
  const [weights, setWeights] = useState<Record<Modality, number>>({
    lyrics: 1,
    lyrics_terms: 1,
    cover: 1,
    audio: 1,
  });

  const found = useQuery({
    queryKey: ["search", search, filters],
    enabled: search !== null,
    placeholderData: keepPreviousData,
    queryFn: async () => {
      if (search === null) throw new Error("nothing to search");
      if (search.mode === "image") {
        return unwrap(
          api.POST("/search/cover", {
            params: { query: { limit: 12, ...toQuery(filters) } },
            body: { image: search.file as unknown as string },
            bodySerializer: (body) => {
              const form = new FormData();
              form.append("image", body.image as unknown as Blob);
              return form;
            },
          }),
        );
      }
      return unwrap(
        api.GET("/search", {
          params: { query: { q: search.q, modality: search.mode, limit: 12, ...toQuery(filters) } },
        }),
      );
    },
  });

  const body: Schemas["RecommendationRequest"] = {
    positive: positive.map((s) => s.id),
    negative: negative.map((s) => s.id),
    weights,
    filters: toFilters(filters),
    limit: 12,
  };
  const recs = useQuery({
    queryKey: ["recommendations", body],
    enabled: positive.length > 0,
    placeholderData: keepPreviousData,
    queryFn: () => unwrap(api.POST("/recommendations", { body })),
  });

  const toggle = (item: Item, list: "positive" | "negative") => {
    const seed = { id: item.track.id, name: item.track.name || item.track.id };
    const [mine, setMine, other, setOther] =
      list === "positive"
        ? [positive, setPositive, negative, setNegative]
        : [negative, setNegative, positive, setPositive];
    if (mine.some((s) => s.id === seed.id)) setMine(mine.filter((s) => s.id !== seed.id));
    else {
      setMine([...mine, seed]);
      setOther(other.filter((s) => s.id !== seed.id));
    }
  };
  const seedButtons = (item: Item) => (
    <SeedButtons
      item={item}
      liked={positive.some((s) => s.id === item.track.id)}
      disliked={negative.some((s) => s.id === item.track.id)}
      toggle={toggle}
    />
  );

  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    if (mode === "image") {
      if (file) setSearch({ mode, file });
    } else if (text.trim()) setSearch({ mode, q: text.trim() });
  };

  return (
    <div className="discover">
      <section aria-labelledby="search-title">
        <h2 id="search-title">Search</h2>
        <form className="search" onSubmit={submit}>
          <fieldset className="modes">
            <legend>Search by</legend>
            {(
              [
                ["lyrics", "lyrics (text)"],
                ["cover", "cover (text, needs CLIP)"],
                ["image", "cover image"],
              ] as const
            ).map(([value, label]) => (
              <label key={value} className="inline">
                <input
                  type="radio"
                  name="mode"
                  value={value}
                  checked={mode === value}
                  onChange={() => setMode(value)}
                />
                {label}
              </label>
            ))}
          </fieldset>
          {mode === "image" ? (
            <label key="file">
              Image file
              <input
                type="file"
                accept="image/jpeg,image/png,image/webp"
                onChange={(e) => setFile(e.target.files?.[0] ?? null)}
              />
            </label>
          ) : (
            <label key="text">
              Words, a lyric, a mood
              <input type="search" value={text} onChange={(e) => setText(e.target.value)} />
            </label>
          )}
          <button type="submit">Search</button>
        </form>
        <Filters value={filters} onChange={setFilters} />
        {found.isFetching ? <Spinner label="Searching…" /> : null}
        <ErrorMessage error={found.error} />
        {found.data ? (
          found.data.items.length ? (
            <ul className="grid" id="found" aria-label="Search results">
              {found.data.items.map((item) => (
                <TrackCard key={item.track.id} item={item}>
                  {seedButtons(item)}
                </TrackCard>
              ))}
            </ul>
          ) : (
            <p className="note">Nothing matches this search and these filters.</p>
          )
        ) : null}
      </section>

      <section aria-labelledby="recs-title">
        <h2 id="recs-title">Recommendations from your seeds</h2>
        <div className="seeds">
          <SeedList title="Like these" seeds={positive} remove={setPositive} id="positive" />
          <SeedList title="Not like these" seeds={negative} remove={setNegative} id="negative" />
        </div>
        <fieldset className="weights">
          <legend>Weight of each modality (0 turns it off)</legend>
          {MODALITIES.map((m) => (
            <label key={m}>
              {m} <span aria-hidden="true">{weights[m].toFixed(2)}</span>
              <input
                aria-label={`${m} weight`}
                type="range"
                min={0}
                max={2}
                step={0.25}
                value={weights[m]}
                onChange={(e) => setWeights({ ...weights, [m]: Number(e.target.value) })}
              />
            </label>
          ))}
        </fieldset>
        {!positive.length ? <p className="note">Like a search result to get recommendations.</p> : null}
        {recs.isFetching ? <Spinner label="Recommending…" /> : null}
        <ErrorMessage error={recs.error} />
        {recs.data && positive.length ? (
          recs.data.items.length ? (
            <>
              <p className="note" id="rec-note">
                Fused by {recs.data.fusion} over {recs.data.modalities.join(", ")}.
              </p>
              <ul className="grid" id="recommended" aria-label="Recommendations">
                {recs.data.items.map((item) => (
                  <TrackCard key={item.track.id} item={item}>
                    {seedButtons(item)}
                  </TrackCard>
                ))}
              </ul>
            </>
          ) : (
            <p className="note">Nothing matches these seeds and filters.</p>
          )
        ) : null}
      </section>
    </div>
  );
}

function SeedList({
  title,
  seeds,
  remove,
  id,
}: {
  title: string;
  seeds: Seed[];
  remove: (next: Seed[]) => void;
  id: string;
}) {
  return (
    <div>
      <h3>{title}</h3>
      {seeds.length ? (
        <ul id={id} className="seed-list">
          {seeds.map((s) => (
            <li key={s.id}>
              {s.name}{" "}
              <button
                type="button"
                aria-label={`Remove: ${s.name}`}
                onClick={() => remove(seeds.filter((x) => x.id !== s.id))}
              >
                Remove
              </button>
            </li>
          ))}
        </ul>
      ) : (
        <p className="note">none</p>
      )}
    </div>
  );
}
