// Sign in with e-mail and password; shows why the user is here (an expired session) and why a
// sign-in failed, in the words of the auth service ("Invalid login credentials").

import { useState } from "react";
import { useSession } from "../auth/session.tsx";

export function SignInPage({ notice }: { notice: string | null }) {
  const { signIn } = useSession();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  return (
    <main className="signin" data-testid="sign-in-page">
      <form
        className="signin-card"
        aria-labelledby="signin-title"
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          setError(null);
          const problem = await signIn(email, password);
          // On success this page is replaced; only a failure needs the form again.
          if (problem) {
            setError(problem);
            setBusy(false);
          }
        }}
      >
        <div className="brand brand-large" aria-hidden="true">
          <span className="brand-mark" />
          Switchboard
        </div>
        <h1 id="signin-title">Sign in to the admin app</h1>
        <p className="muted">For platform and store administrators.</p>
        {notice && !error && (
          <div className="alert alert-warning" role="alert" data-testid="session-notice">
            <p>{notice}</p>
          </div>
        )}
        {error && (
          <div className="alert alert-error" role="alert" data-testid="sign-in-error">
            <p>{error}</p>
          </div>
        )}
        <label className="field">
          <span>E-mail</span>
          <input
            type="email"
            name="email"
            autoComplete="username"
            required
            autoFocus
            value={email}
            onChange={(e) => setEmail(e.target.value)}
            data-testid="sign-in-email"
          />
        </label>
        <label className="field">
          <span>Password</span>
          <input
            type="password"
            name="password"
            autoComplete="current-password"
            required
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            data-testid="sign-in-password"
          />
        </label>
        <button type="submit" className="button button-primary button-block" disabled={busy} data-testid="sign-in-submit">
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}
