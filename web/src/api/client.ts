import createClient, { type Middleware } from "openapi-fetch";
import type { components, paths } from "./schema";

export type Schemas = components["schemas"];
export type Item = Schemas["RecommendationItem"];
export type Track = Schemas["TrackOut"];
export type Recommendation = Schemas["RecommendationResponse"];
export type Modality = "lyrics" | "lyrics_terms" | "cover" | "audio";
export const MODALITIES: Modality[] = ["lyrics", "lyrics_terms", "cover", "audio"];

/** An API answer other than 2xx, with the server's own words (its `detail`). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

type Detail = string | { loc?: (string | number)[]; msg?: string }[] | undefined;

/** FastAPI's `detail`: a sentence, or the validation errors naming their field. */
export function describe(status: number, body: unknown): string {
  const detail = (body as { detail?: Detail } | undefined)?.detail;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail) && detail.length) {
    return detail.map((d) => `${(d.loc ?? []).slice(1).join(".") || "request"}: ${d.msg}`).join("; ");
  }
  return `the API answered ${status}`;
}

let apiKey = sessionStorage.getItem("musicrec-api-key") ?? "";

/** The key writes need; kept for this tab only (sessionStorage), never in a URL. */
export function setApiKey(key: string): void {
  apiKey = key.trim();
  if (apiKey) sessionStorage.setItem("musicrec-api-key", apiKey);
  else sessionStorage.removeItem("musicrec-api-key");
}

export function getApiKey(): string {
  return apiKey;
}

const withKey: Middleware = {
  onRequest({ request }) {
    if (apiKey) request.headers.set("X-API-Key", apiKey);
    return request;
  },
};

export const api = createClient<paths>({ baseUrl: window.location.origin });
api.use(withKey);

/** The data of an openapi-fetch answer, or an ApiError with the server's message. */
export async function unwrap<T>(
  call: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  let result;
  try {
    result = await call;
  } catch {
    throw new ApiError(0, "the API cannot be reached: is the server running?");
  }
  const { data, error, response } = result;
  if (!response.ok) throw new ApiError(response.status, describe(response.status, error));
  return data as T;
}

export function coverUrl(trackId: string): string {
  return `/covers/${encodeURIComponent(trackId)}`;
}
