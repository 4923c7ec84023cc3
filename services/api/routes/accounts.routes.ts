import type { RouteSpec } from "../route-table";

/** "Identity, continued" of shared/design/api.md: provider sign-in, self-service, administration. */
export const accountRoutes: RouteSpec[] = [
  {
    method: "GET",
    path: "/auth/providers",
    action: "users.providers",
    summary: "The OpenID Connect providers one may sign in with",
    tag: "Identity",
  },
  {
    method: "POST",
    path: "/auth/oidc/:provider/start",
    action: "users.oidcStart",
    summary: "Start a provider sign-in (authorization code + PKCE): the URL to send the browser to",
    tag: "Identity",
  },
  {
    method: "GET",
    path: "/auth/oidc/:provider/callback",
    action: "users.oidcCallback",
    status: 302,
    summary:
      "Where the provider sends the browser back: redirects to the redirect URI with a one-time code (or an error)",
    tag: "Identity",
  },
  {
    method: "POST",
    path: "/auth/oidc/exchange",
    action: "users.oidcExchange",
    summary: "Exchange the callback's one-time code for tokens",
    tag: "Identity",
  },
  {
    method: "POST",
    path: "/auth/oidc/:provider/id-token",
    action: "users.oidcIdToken",
    summary: "Sign in with an ID token from the provider's native SDK",
    tag: "Identity",
  },
  {
    method: "GET",
    path: "/me/identities",
    action: "users.identities",
    summary: "The provider accounts linked to mine",
    tag: "Identity",
  },
  {
    method: "POST",
    path: "/me/identities/:provider/start",
    action: "users.linkStart",
    summary: "Link a provider to my account: the URL to send the browser to",
    tag: "Identity",
  },
  {
    method: "DELETE",
    path: "/me/identities/:id",
    action: "users.unlinkIdentity",
    status: 204,
    summary: "Unlink a provider account (never the last way to sign in)",
    tag: "Identity",
  },
  {
    method: "GET",
    path: "/users/:id",
    action: "users.getUser",
    summary: "A user's profile and standing (admin)",
    tag: "Identity",
  },
  {
    method: "POST",
    path: "/users/:id/suspend",
    action: "users.suspend",
    summary: "Suspend a user: their tokens stop working at once (admin)",
    tag: "Identity",
  },
  {
    method: "POST",
    path: "/users/:id/unsuspend",
    action: "users.unsuspend",
    summary: "Lift a suspension (admin)",
    tag: "Identity",
  },
  {
    method: "DELETE",
    path: "/users/:id",
    action: "users.erase",
    status: 202,
    summary: "Erase a user and their data in every service (admin)",
    tag: "Identity",
  },
];
