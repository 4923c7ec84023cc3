import type { RouteSpec } from "../route-table";

/** The Social table of shared/design/api.md: profiles others see, following, blocking (users). */
export const socialRoutes: RouteSpec[] = [
  {
    method: "GET",
    path: "/users/search",
    action: "users.searchUsers",
    summary: "Find people by name among the profiles that are not private",
    tag: "Identity",
  },
  {
    method: "GET",
    path: "/users/:id/profile",
    action: "users.profilePage",
    summary: "A person's public profile (name, XP, streak, achievements) when it is visible to me",
    tag: "Identity",
  },
  {
    method: "PUT",
    path: "/me/following/:userId",
    action: "users.follow",
    status: 204,
    summary: "Follow someone",
    tag: "Identity",
  },
  {
    method: "DELETE",
    path: "/me/following/:userId",
    action: "users.unfollow",
    status: 204,
    summary: "Stop following someone",
    tag: "Identity",
  },
  {
    method: "GET",
    path: "/me/following",
    action: "users.following",
    summary: "The people I follow",
    tag: "Identity",
  },
  {
    method: "GET",
    path: "/me/followers",
    action: "users.followers",
    summary: "The people who follow me",
    tag: "Identity",
  },
  {
    method: "PUT",
    path: "/me/blocked/:userId",
    action: "users.block",
    status: 204,
    summary: "Block someone: they can no longer follow, find or see me",
    tag: "Identity",
  },
  {
    method: "DELETE",
    path: "/me/blocked/:userId",
    action: "users.unblock",
    status: 204,
    summary: "Unblock someone",
    tag: "Identity",
  },
  {
    method: "GET",
    path: "/me/blocked",
    action: "users.blocked",
    summary: "The people I blocked",
    tag: "Identity",
  },
];
