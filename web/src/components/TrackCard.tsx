import { useState } from "react";
import { Link } from "react-router-dom";
import { coverUrl, type Item, type Track } from "../api/client";
import { ExplanationBars, SimilarityBars, whyLine } from "./Bars";

// A neutral record sleeve, inline (img-src allows data:), for tracks without a cached cover.
const PLACEHOLDER =
  "data:image/svg+xml;utf8," +
  encodeURIComponent(
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><rect width="10" height="10" fill="#dde3ea"/><circle cx="5" cy="5" r="3.2" fill="#aab4bf"/><circle cx="5" cy="5" r="0.7" fill="#dde3ea"/></svg>',
  );

export function Cover({ track }: { track: Track }) {
  const [failed, setFailed] = useState(false);
  const real = Boolean(track.album_url) && !failed;
  return (
    <img
      className={real ? "cover" : "cover placeholder"}
      src={real ? coverUrl(track.id) : PLACEHOLDER}
      alt={track.album_name ? `Cover of ${track.album_name}` : `No cover for ${track.name}`}
      width={96}
      height={96}
      loading="lazy"
      onError={() => setFailed(true)}
    />
  );
}

export function TrackLine({ track }: { track: Track }) {
  return (
    <>
      <Link className="title" to={`/track/${encodeURIComponent(track.id)}`}>
        {track.name || track.id}
      </Link>
      <span className="artists">{(track.artists ?? []).join(", ")}</span>
      <span className="meta">
        {[track.album_name, track.year, track.genre].filter(Boolean).join(" · ")}
      </span>
    </>
  );
}

type Props = {
  item: Item;
  children?: React.ReactNode; // the actions the page offers (like, dislike, record …)
};

/** One result: cover, what it is, why (similarities; the ranker's signals when it ranked). */
export function TrackCard({ item, children }: Props) {
  const { track } = item;
  return (
    <li className="card" data-track-id={track.id}>
      <Cover track={track} />
      <div className="card-body">
        <TrackLine track={track} />
        <SimilarityBars similarities={item.similarities} />
        {item.explanation ? (
          <>
            <p className="why">{whyLine(item.explanation)}</p>
            <ExplanationBars explanation={item.explanation} />
          </>
        ) : null}
        {item.sources?.length ? (
          <p className="sources">found by: {item.sources.join(", ")}</p>
        ) : null}
        {children ? <div className="actions">{children}</div> : null}
      </div>
    </li>
  );
}
