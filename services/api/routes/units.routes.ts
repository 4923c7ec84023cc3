import type { RouteSpec } from "../route-table";

/** Units of a course (api.md, Content): lessons name their unit and what they require with PATCH /lessons/:id. */
export const unitsRoutes: RouteSpec[] = [
  {
    method: "POST",
    path: "/courses/:id/units",
    action: "content.createUnit",
    status: 201,
    summary: "Add a unit to a course's draft (lessons join it with `unitId`)",
    tag: "Content",
  },
];
