import type { Schemas } from "../api/client";

export type FilterState = {
  genres: string;
  yearMin: string;
  yearMax: string;
  explicit: "" | "yes" | "no";
  excludeArtists: string;
};

export const NO_FILTERS: FilterState = {
  genres: "",
  yearMin: "",
  yearMax: "",
  explicit: "",
  excludeArtists: "",
};

const list = (text: string) =>
  text
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
const year = (text: string) => (text.trim() ? Number(text) : null);

/** The request body's `filters` (the API checks the values and names a bad one). */
export function toFilters(f: FilterState): Schemas["Filters"] {
  return {
    genres: list(f.genres),
    year_min: year(f.yearMin),
    year_max: year(f.yearMax),
    explicit: f.explicit === "" ? null : f.explicit === "yes",
    exclude_artists: list(f.excludeArtists),
  };
}

/** The same filters as query parameters (singular names, repeated). */
export function toQuery(f: FilterState) {
  const body = toFilters(f);
  return {
    genre: body.genres?.length ? body.genres : undefined,
    year_min: body.year_min ?? undefined,
    year_max: body.year_max ?? undefined,
    explicit: body.explicit ?? undefined,
    exclude_artist: body.exclude_artists?.length ? body.exclude_artists : undefined,
  };
}

export function Filters({
  value,
  onChange,
}: {
  value: FilterState;
  onChange: (next: FilterState) => void;
}) {
  const set = (patch: Partial<FilterState>) => onChange({ ...value, ...patch });
  return (
    <fieldset className="filters">
      <legend>Filters</legend>
      <label>
        Genres (comma-separated)
        <input value={value.genres} onChange={(e) => set({ genres: e.target.value })} />
      </label>
      <label>
        From year
        <input
          inputMode="numeric"
          value={value.yearMin}
          onChange={(e) => set({ yearMin: e.target.value })}
        />
      </label>
      <label>
        To year
        <input
          inputMode="numeric"
          value={value.yearMax}
          onChange={(e) => set({ yearMax: e.target.value })}
        />
      </label>
      <label>
        Explicit
        <select
          value={value.explicit}
          onChange={(e) => set({ explicit: e.target.value as FilterState["explicit"] })}
        >
          <option value="">any</option>
          <option value="no">not explicit</option>
          <option value="yes">explicit only</option>
        </select>
      </label>
      <label>
        Exclude artists
        <input
          value={value.excludeArtists}
          onChange={(e) => set({ excludeArtists: e.target.value })}
        />
      </label>
    </fieldset>
  );
}
