import { ApiError } from "../api/client";

/** Shown while a call is under way; announced to screen readers. */
export function Spinner({ label = "Loading…" }: { label?: string }) {
  return (
    <p className="spinner" role="status" aria-live="polite">
      <span className="spin" aria-hidden="true" />
      {label}
    </p>
  );
}

/** The API's own message for a failed call (never swallowed). */
export function ErrorMessage({ error }: { error: unknown }) {
  if (!error) return null;
  const text =
    error instanceof ApiError
      ? `${error.message}${error.status ? ` (HTTP ${error.status})` : ""}`
      : error instanceof Error
        ? error.message
        : String(error);
  return (
    <p className="error" role="alert">
      {text}
    </p>
  );
}
