/// <reference types="vite/client" />

interface ImportMetaEnv {
  /** The edge's base URL, e.g. https://auth.example.com (default: `cargo xtask run`'s). */
  readonly VITE_EDGE?: string;
  /** The public OAuth client registered there with this app's /callback.html. */
  readonly VITE_CLIENT_ID?: string;
}
