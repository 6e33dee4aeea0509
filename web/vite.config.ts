// Build of the admin app: a static bundle with relative asset paths (base "./"), so dist/ can be
// served from any host or sub-path; the Supabase URL and key come from VITE_* or /config.json.
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

export default defineConfig({
  base: "./",
  plugins: [react()],
  build: {
    outDir: "dist",
    sourcemap: true,
    target: "es2022",
    rollupOptions: {
      output: {
        // Vendor code in its own files, so an app release does not re-download it.
        manualChunks(id) {
          if (id.includes("/node_modules/@supabase/")) return "supabase";
          if (/\/node_modules\/(react|react-dom|scheduler)\//.test(id)) return "react";
        },
      },
    },
  },
  server: { port: 5173, strictPort: false },
  preview: { port: 4173 },
});
