import { useQuery } from "@tanstack/react-query";
import { lazy, Suspense } from "react";
import { NavLink, Route, Routes } from "react-router-dom";
import { api, unwrap } from "./api/client";
import { KeyProvider } from "./components/KeyField";
import { ErrorMessage, Spinner } from "./components/Status";
import { Collections } from "./pages/Collections";
import { Discover } from "./pages/Discover";
import { Listener } from "./pages/Listener";
import { TrackPage } from "./pages/Track";

// The charts library is most of the bundle: loaded when the Stats page is first shown.
const Stats = lazy(() => import("./pages/Stats").then((m) => ({ default: m.Stats })));

const PAGES = [
  ["/", "Discover"],
  ["/listener", "Listener"],
  ["/stats", "Stats"],
  ["/collections", "Collections"],
] as const;

function Health() {
  const health = useQuery({ queryKey: ["health"], queryFn: () => unwrap(api.GET("/health")) });
  if (health.error) return <ErrorMessage error={health.error} />;
  if (!health.data) return null;
  const h = health.data;
  return (
    <p className="health" id="health">
      {h.status === "ok" ? `${h.points} tracks · ${h.engine} engine` : `degraded: ${h.detail}`}
    </p>
  );
}

export function App() {
  return (
    <>
      <a className="skip-link" href="#main">
        Skip to the content
      </a>
      <header className="top">
        <h1>musicrec</h1>
        <nav aria-label="Pages">
          {PAGES.map(([to, label]) => (
            <NavLink key={to} to={to} end={to === "/"}>
              {label}
            </NavLink>
          ))}
        </nav>
        <Health />
      </header>
      <KeyProvider>
        <main id="main" tabIndex={-1}>
          <Routes>
            <Route path="/" element={<Discover />} />
            <Route path="/track/:id" element={<TrackPage />} />
            <Route path="/listener/:userId?" element={<Listener />} />
            <Route
              path="/stats"
              element={
                <Suspense fallback={<Spinner label="Loading the charts…" />}>
                  <Stats />
                </Suspense>
              }
            />
            <Route path="/collections/:name?" element={<Collections />} />
            <Route path="*" element={<p className="error">No such page.</p>} />
          </Routes>
        </main>
      </KeyProvider>
    </>
  );
}
