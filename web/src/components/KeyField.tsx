import { useQueryClient } from "@tanstack/react-query";
import { createContext, useContext, useState } from "react";
import { getApiKey, setApiKey } from "../api/client";

const KeyContext = createContext<string>("");

/** The key as the pages see it: they re-render (and re-ask) when it changes. */
export function useApiKey(): string {
  return useContext(KeyContext);
}

export function KeyProvider({ children }: { children: React.ReactNode }) {
  const [key, setKey] = useState(getApiKey());
  const client = useQueryClient();
  return (
    <KeyContext.Provider value={key}>
      <form
        className="key"
        onSubmit={(e) => {
          e.preventDefault();
          const input = e.currentTarget.elements.namedItem("api-key") as HTMLInputElement;
          setApiKey(input.value);
          setKey(getApiKey());
          void client.invalidateQueries();
        }}
      >
        <label>
          API key
          <input
            name="api-key"
            type="password"
            autoComplete="off"
            defaultValue={key}
            placeholder="for writes and listeners"
          />
        </label>
        <button type="submit">Use key</button>
        <span className="note" aria-live="polite">
          {key ? "key set for this tab" : "no key: reads only"}
        </span>
      </form>
      {children}
    </KeyContext.Provider>
  );
}
