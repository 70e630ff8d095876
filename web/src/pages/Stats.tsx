import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import {
  Bar,
  BarChart,
  CartesianGrid,
  Legend,
  Line,
  LineChart,
  ResponsiveContainer,
  Tooltip,
  XAxis,
  YAxis,
} from "recharts";
import { api, unwrap, type Schemas } from "../api/client";
import { ErrorMessage, Spinner } from "../components/Status";

type Row = Schemas["DayModelStats"];
type Metric = "hit_rate" | "users" | "coverage";
const COLOURS = ["#1f6fb2", "#c2410c", "#15803d", "#7e22ce", "#a16207"];

/** One record per day with a column per model version: the shape recharts draws lines from. */
function byDay(rows: Row[], metric: Metric) {
  const days = new Map<string, Record<string, number | string | null>>();
  for (const r of rows) {
    const day = days.get(r.day) ?? { day: r.day };
    day[r.model_version] = r[metric] ?? null;
    days.set(r.day, day);
  }
  return [...days.values()].sort((a, b) => String(a.day).localeCompare(String(b.day)));
}

function Chart({ rows, metric, title }: { rows: Row[]; metric: Metric; title: string }) {
  const versions = [...new Set(rows.map((r) => r.model_version))];
  const data = byDay(rows, metric);
  const Kind = metric === "users" ? BarChart : LineChart;
  return (
    <figure className="chart" aria-label={title}>
      <figcaption>{title}</figcaption>
      <ResponsiveContainer width="100%" height={220}>
        <Kind data={data} margin={{ top: 8, right: 12, bottom: 4, left: 0 }}>
          <CartesianGrid strokeDasharray="3 3" />
          <XAxis dataKey="day" fontSize={11} />
          <YAxis fontSize={11} domain={metric === "users" ? [0, "auto"] : [0, "auto"]} />
          <Tooltip />
          <Legend />
          {versions.map((v, i) =>
            metric === "users" ? (
              <Bar
                key={v}
                dataKey={v}
                fill={COLOURS[i % COLOURS.length]}
                maxBarSize={48}
                isAnimationActive={false}
              />
            ) : (
              <Line
                key={v}
                dataKey={v}
                stroke={COLOURS[i % COLOURS.length]}
                dot
                isAnimationActive={false}
              />
            ),
          )}
        </Kind>
      </ResponsiveContainer>
    </figure>
  );
}

export function Stats() {
  const [days, setDays] = useState(30);
  const stats = useQuery({
    queryKey: ["stats", days],
    queryFn: () => unwrap(api.GET("/stats", { params: { query: { days } } })),
  });
  const health = useQuery({ queryKey: ["health"], queryFn: () => unwrap(api.GET("/health")) });
  const rows = stats.data?.days ?? [];
  const h = health.data;
  return (
    <div className="stats">
      <section aria-labelledby="serving-title">
        <h2 id="serving-title">Serving now</h2>
        <ErrorMessage error={health.error} />
        {h ? (
          <dl className="stored" id="serving">
            <div>
              <dt>LightFM model</dt>
              <dd>{h.collaborative?.version ?? h.collaborative?.status ?? "none"}</dd>
            </div>
            <div>
              <dt>Ranker</dt>
              <dd>
                {h.ranker?.status === "loaded"
                  ? `learned ${h.ranker.version ?? ""}`
                  : "linear blend (no ranker artefact)"}
              </dd>
            </div>
            <div>
              <dt>Collection</dt>
              <dd>
                {h.collection} on {h.engine}, {h.points ?? "?"} points
              </dd>
            </div>
            {Object.entries(h.encoders).map(([name, id]) => (
              <div key={name}>
                <dt>{name} encoder</dt>
                <dd>{id}</dd>
              </div>
            ))}
          </dl>
        ) : null}
      </section>
      <section aria-labelledby="online-title">
        <h2 id="online-title">Online evaluation</h2>
        <label>
          Days shown
          <select value={days} onChange={(e) => setDays(Number(e.target.value))}>
            {[7, 30, 90, 365].map((d) => (
              <option key={d} value={d}>
                {d}
              </option>
            ))}
          </select>
        </label>
        {stats.isFetching ? <Spinner label="Counting…" /> : null}
        <ErrorMessage error={stats.error} />
        {stats.data ? (
          rows.length ? (
            <>
              <p className="note">
                A hit: an interaction with a top-{stats.data.hit_at} track within{" "}
                {stats.data.window_days} days of serving it; coverage over{" "}
                {stats.data.catalog_size ?? "?"} tracks.
              </p>
              <div className="charts">
                <Chart rows={rows} metric="hit_rate" title={`Hit rate@${stats.data.hit_at}`} />
                <Chart rows={rows} metric="users" title="Users served" />
                <Chart rows={rows} metric="coverage" title="Catalog coverage" />
              </div>
              <div className="table-wrap">
                <table id="stats-table">
                  <caption>Per day and model version</caption>
                  <thead>
                    <tr>
                      {["day", "model", "requests", "users", "hits", "hit rate", "coverage"].map(
                        (c) => (
                          <th key={c} scope="col">
                            {c}
                          </th>
                        ),
                      )}
                    </tr>
                  </thead>
                  <tbody>
                    {rows.map((r) => (
                      <tr key={`${r.day}-${r.model_version}`}>
                        <td>{r.day}</td>
                        <td>{r.model_version}</td>
                        <td>{r.requests}</td>
                        <td>{r.users}</td>
                        <td>{r.hits}</td>
                        <td>{r.hit_rate.toFixed(3)}</td>
                        <td>{r.coverage === null ? "n/a" : r.coverage.toFixed(4)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            </>
          ) : (
            <p className="note">No personalised recommendation served in these days yet.</p>
          )
        ) : null}
      </section>
    </div>
  );
}
