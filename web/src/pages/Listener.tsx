import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useNavigate, useParams } from "react-router-dom";
import { api, getApiKey, unwrap, type Item } from "../api/client";
import { useApiKey } from "../components/KeyField";
import { ErrorMessage, Spinner } from "../components/Status";
import { Cover, TrackCard, TrackLine } from "../components/TrackCard";

type Kind = "like" | "skip";

export function Listener() {
  const userId = useParams().userId ?? "";
  const navigate = useNavigate();
  const key = useApiKey();
  const [typed, setTyped] = useState(userId);
  const client = useQueryClient();

  const users = useQuery({
    queryKey: ["users", key],
    enabled: Boolean(key),
    queryFn: () => unwrap(api.GET("/users", { params: { query: { limit: 200 } } })),
  });
  const history = useQuery({
    queryKey: ["history", userId],
    enabled: Boolean(userId),
    queryFn: () =>
      unwrap(
        api.GET("/users/{user_id}/history", {
          params: { path: { user_id: userId }, query: { limit: 30 } },
        }),
      ),
  });
  const recs = useQuery({
    queryKey: ["user-recs", userId],
    enabled: Boolean(userId),
    queryFn: () =>
      unwrap(
        api.GET("/users/{user_id}/recommendations", {
          params: { path: { user_id: userId }, query: { limit: 12 } },
        }),
      ),
  });
  const record = useMutation({
    mutationFn: ({ item, kind }: { item: Item; kind: Kind }) =>
      unwrap(
        api.POST("/interactions", {
          body: {
            events: [
              {
                user_id: userId,
                track_id: item.track.id,
                kind,
                weight: kind === "like" ? 1 : 0,
                event_id: crypto.randomUUID(),
              },
            ],
          },
        }),
      ),
    onSuccess: () => {
      void client.invalidateQueries({ queryKey: ["history", userId] });
      void client.invalidateQueries({ queryKey: ["user-recs", userId] });
    },
  });

  const choose = (id: string) => {
    setTyped(id);
    if (id) navigate(`/listener/${encodeURIComponent(id)}`);
  };
  const p = recs.data?.personalization;

  return (
    <div className="listener">
      <form
        className="pick"
        onSubmit={(e) => {
          e.preventDefault();
          choose(typed.trim());
        }}
      >
        <label>
          Listener id
          <input value={typed} onChange={(e) => setTyped(e.target.value)} />
        </label>
        <button type="submit">Show</button>
        {key ? (
          <label>
            Known listeners
            <select id="user" value={userId} onChange={(e) => choose(e.target.value)}>
              <option value="">choose…</option>
              {users.data?.users.map((u) => (
                <option key={u.id} value={u.id}>
                  {u.id} ({u.interactions} tracks{u.in_model ? "" : ", not in the model"})
                </option>
              ))}
            </select>
          </label>
        ) : (
          <p className="note" id="key-note">
            Listing listeners needs the API key (above): it lists people.
          </p>
        )}
      </form>
      {users.isFetching ? <Spinner label="Listing listeners…" /> : null}
      <ErrorMessage error={users.error} />
      {!userId ? <p className="note">Choose a listener, or type an id.</p> : null}
      {userId ? (
        <div className="listener-body">
          <section aria-labelledby="history-title">
            <h2 id="history-title">History of {userId}</h2>
            {history.isFetching ? <Spinner label="Reading the history…" /> : null}
            <ErrorMessage error={history.error} />
            {history.data ? (
              <>
                <p className="note">
                  {history.data.total} tracks; the {history.data.tracks.length} most recent:
                </p>
                <ol className="history">
                  {history.data.tracks.map((t) => (
                    <li key={t.id}>
                      <Cover track={t} />
                      <span className="card-body">
                        <TrackLine track={t} />
                      </span>
                    </li>
                  ))}
                </ol>
              </>
            ) : null}
          </section>
          <section aria-labelledby="personal-title">
            <h2 id="personal-title">Recommended for {userId}</h2>
            {recs.isFetching ? <Spinner label="Ranking candidates…" /> : null}
            <ErrorMessage error={recs.error} />
            {p ? (
              <p className="note" id="ranked-by">
                {p.ranker === "learned"
                  ? `Ranked by the learned ranker ${p.ranker_version ?? ""}`
                  : `Ranked by the linear blend (LightFM share ${p.collab_weight})`}
                {p.status === "applied"
                  ? `, with LightFM ${p.model_version ?? ""}.`
                  : ` (LightFM: ${p.status}).`}
              </p>
            ) : null}
            {record.isPending ? <Spinner label="Recording…" /> : null}
            <ErrorMessage error={record.error} />
            {record.isSuccess ? (
              <p className="note" role="status">
                Recorded a {record.variables.kind} of “{record.variables.item.track.name}”.
              </p>
            ) : null}
            {!getApiKey() ? (
              <p className="note">Recording a like or a skip needs the API key (above).</p>
            ) : null}
            {recs.data ? (
              <ul className="grid" id="personal" aria-label="Personal recommendations">
                {recs.data.items.map((item) => (
                  <TrackCard key={item.track.id} item={item}>
                    {(["like", "skip"] as const).map((kind) => (
                      <button
                        key={kind}
                        type="button"
                        disabled={record.isPending}
                        aria-label={`Record ${kind}: ${item.track.name}`}
                        onClick={() => record.mutate({ item, kind })}
                      >
                        {kind === "like" ? "Record like" : "Record skip"}
                      </button>
                    ))}
                  </TrackCard>
                ))}
              </ul>
            ) : null}
          </section>
        </div>
      ) : null}
    </div>
  );
}
