import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link, useNavigate, useParams } from "react-router-dom";
import { api, unwrap } from "../api/client";
import { useApiKey } from "../components/KeyField";
import { ErrorMessage, Spinner } from "../components/Status";

const PAGE = 20;

/** A payload value short enough for a table cell (lyrics are long). */
function brief(value: unknown): string {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}…` : text;
}

export function Collections() {
  const name = useParams().name ?? "";
  const list = useQuery({
    queryKey: ["collections"],
    queryFn: () => unwrap(api.GET("/collections")),
  });
  return (
    <div className="collections">
      <section aria-labelledby="collections-title">
        <h2 id="collections-title">Collections</h2>
        {list.isFetching ? <Spinner label="Listing collections…" /> : null}
        <ErrorMessage error={list.error} />
        {list.data ? (
          <>
            <p className="note">
              Engine: {list.data.engine}.{" "}
              {list.data.dashboard_url ? (
                <a href={list.data.dashboard_url}>Open the Qdrant server's dashboard</a>
              ) : (
                "The embedded engine has no dashboard of its own: this page is its console."
              )}
            </p>
            <div className="table-wrap">
              <table id="collection-list">
                <thead>
                  <tr>
                    <th scope="col">collection</th>
                    <th scope="col">points</th>
                    <th scope="col">serving</th>
                  </tr>
                </thead>
                <tbody>
                  {list.data.collections.map((c) => (
                    <tr key={c.name} aria-current={c.name === name ? "true" : undefined}>
                      <td>
                        <Link to={`/collections/${encodeURIComponent(c.name)}`}>{c.name}</Link>
                      </td>
                      <td>{c.points ?? c.detail}</td>
                      <td>{c.serving ? "yes" : ""}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </>
        ) : null}
      </section>
      {name ? <CollectionView key={name} name={name} /> : null}
    </div>
  );
}

function CollectionView({ name }: { name: string }) {
  const info = useQuery({
    queryKey: ["collection", name],
    queryFn: () =>
      unwrap(api.GET("/collections/{name}", { params: { path: { name } } })),
  });
  if (info.isPending) return <Spinner label="Reading the collection…" />;
  if (info.error) return <ErrorMessage error={info.error} />;
  const c = info.data;
  return (
    <section aria-labelledby="collection-title" className="collection">
      <h2 id="collection-title">{c.name}</h2>
      <dl className="stored" id="collection-info">
        <div>
          <dt>points</dt>
          <dd>{c.points}</dd>
        </div>
        <div>
          <dt>on disk</dt>
          <dd>{c.disk_bytes === null ? "n/a" : `${(c.disk_bytes / 1e6).toFixed(1)} MB`}</dd>
        </div>
        <div>
          <dt>index</dt>
          <dd>{c.index_status}</dd>
        </div>
        {Object.entries(c.metadata).map(([k, v]) => (
          <div key={k}>
            <dt>{k}</dt>
            <dd>{brief(v)}</dd>
          </div>
        ))}
      </dl>
      <h3>Vectors</h3>
      <ul id="vectors">
        {Object.entries(c.vectors).map(([k, v]) => (
          <li key={k}>
            <strong>{k}</strong>: {v}
          </li>
        ))}
      </ul>
      <h3>Payload indexes</h3>
      {Object.keys(c.payload_indexes).length ? (
        <ul id="payload-indexes">
          {Object.entries(c.payload_indexes).map(([k, v]) => (
            <li key={k}>
              <strong>{k}</strong>: {v}
            </li>
          ))}
        </ul>
      ) : (
        <p className="note">none</p>
      )}
      <Admin name={name} />
      <Points name={name} />
    </section>
  );
}

function Points({ name }: { name: string }) {
  // The offsets of the pages seen so far: "Previous" goes back without the API keeping state.
  const [starts, setStarts] = useState<(string | null)[]>([null]);
  const offset = starts[starts.length - 1] ?? null;
  const page = useQuery({
    queryKey: ["points", name, offset],
    queryFn: () =>
      unwrap(
        api.GET("/collections/{name}/points", {
          params: { path: { name }, query: { limit: PAGE, ...(offset ? { offset } : {}) } },
        }),
      ),
  });
  const fields = [
    ...new Set((page.data?.points ?? []).flatMap((p) => Object.keys(p.payload))),
  ].slice(0, 8);
  return (
    <section aria-labelledby="points-title">
      <h3 id="points-title">Points (page {starts.length})</h3>
      <div className="pager">
        <button type="button" disabled={starts.length < 2} onClick={() => setStarts(starts.slice(0, -1))}>
          Previous page
        </button>
        <button
          type="button"
          disabled={!page.data?.next_offset}
          onClick={() => page.data?.next_offset && setStarts([...starts, page.data.next_offset])}
        >
          Next page
        </button>
      </div>
      {page.isFetching ? <Spinner label="Reading points…" /> : null}
      <ErrorMessage error={page.error} />
      {page.data ? (
        <div className="table-wrap">
          <table id="points">
            <thead>
              <tr>
                <th scope="col">id</th>
                {fields.map((f) => (
                  <th key={f} scope="col">
                    {f}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {page.data.points.map((p) => (
                <tr key={p.id}>
                  <td className="mono">{p.id}</td>
                  {fields.map((f) => (
                    <td key={f}>{f in p.payload ? brief(p.payload[f]) : ""}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}

function Admin({ name }: { name: string }) {
  const key = useApiKey();
  const client = useQueryClient();
  const navigate = useNavigate();
  const [typed, setTyped] = useState("");
  const snapshot = useMutation({
    mutationFn: () =>
      unwrap(api.POST("/collections/{name}/snapshot", { params: { path: { name } } })),
  });
  const drop = useMutation({
    mutationFn: () =>
      unwrap(
        api.DELETE("/collections/{name}", {
          params: { path: { name }, query: { confirm: typed } },
        }),
      ),
    onSuccess: () => {
      void client.invalidateQueries({ queryKey: ["collections"] });
      navigate("/collections");
    },
  });
  return (
    <section aria-labelledby="admin-title" className="admin">
      <h3 id="admin-title">Snapshot and drop</h3>
      {!key ? <p className="note">Both need the API key (above).</p> : null}
      <button type="button" onClick={() => snapshot.mutate()} disabled={snapshot.isPending}>
        Take a snapshot
      </button>
      {snapshot.isPending ? <Spinner label="Writing the snapshot…" /> : null}
      <ErrorMessage error={snapshot.error} />
      {snapshot.data ? (
        <p className="note" role="status" id="snapshot-done">
          Snapshot: <span className="mono">{snapshot.data.snapshot}</span>
        </p>
      ) : null}
      <form
        className="drop"
        onSubmit={(e) => {
          e.preventDefault();
          drop.mutate();
        }}
      >
        <label>
          Type “{name}” to drop it
          <input value={typed} onChange={(e) => setTyped(e.target.value)} autoComplete="off" />
        </label>
        <button type="submit" className="danger" disabled={typed !== name || drop.isPending}>
          Drop {name}
        </button>
      </form>
      {drop.isPending ? <Spinner label="Dropping…" /> : null}
      <ErrorMessage error={drop.error} />
    </section>
  );
}
