import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The API serves the build under /ui (api/routes/ui.py); `npm run dev` proxies the API.
const api = process.env.MUSICREC_API ?? "http://127.0.0.1:8000";
const proxied = ["/health", "/search", "/recommendations", "/tracks", "/covers", "/users",
  "/interactions", "/stats", "/collections", "/model"];

export default defineConfig({
  base: "/ui/",
  plugins: [react()],
  build: { outDir: "dist", assetsDir: "assets", sourcemap: false },
  server: { proxy: Object.fromEntries(proxied.map((p) => [p, api])) },
});
