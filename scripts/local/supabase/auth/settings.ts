// What GoTrue says about itself: GET /health (api.go's HealthCheck) and GET /settings (settings.go) for this
// stand-in — e-mail/password only, no sign-ups.

/** What /health reports as GoTrue's version. */
export const GOTRUE_VERSION = "v2.197.0";

export function healthCheck(): Record<string, unknown> {
  return {
    version: GOTRUE_VERSION,
    name: "GoTrue",
    description: "GoTrue is a user registration and authentication API",
  };
}

/** GoTrue's GET /settings for this stand-in: e-mail/password only, no sign-ups. */
export function settings(): Record<string, unknown> {
  const providers = [
    "anonymous_users",
    "apple",
    "azure",
    "bitbucket",
    "discord",
    "facebook",
    "figma",
    "fly",
    "github",
    "gitlab",
    "google",
    "keycloak",
    "kakao",
    "linkedin",
    "linkedin_oidc",
    "nextcloud",
    "notion",
    "spotify",
    "slack",
    "slack_oidc",
    "workos",
    "twitch",
    "twitter",
    "email",
    "phone",
    "zoom",
  ];
  return {
    external: Object.fromEntries(providers.map((p) => [p, p === "email"])),
    disable_signup: true,
    mailer_autoconfirm: false,
    phone_autoconfirm: false,
    sms_provider: "",
    saml_enabled: false,
  };
}
