/**
 * Which part may import which (issue 14): services meet only through the broker, and the
 * shared layers (lib/, mixins/, models/, middlewares/) know no service.
 * @type {import("dependency-cruiser").IConfiguration}
 */
module.exports = {
  forbidden: [
    {
      name: "shared-layers-know-no-service",
      comment:
        "lib/, mixins/, models/ and middlewares/ serve every service; a service's code belongs under services/.",
      severity: "error",
      from: { path: "^(lib|mixins|models|middlewares)/" },
      to: { path: "^services/" },
    },
    {
      name: "services-meet-through-the-broker",
      comment:
        "A service calls another through the broker (ctx.call, events), never by importing its code: each one is deployed as its own node.",
      severity: "error",
      from: { path: "^services/([^/.]+)" },
      to: { path: "^services/", pathNot: "^services/$1(\\.service\\.ts$|/)" },
    },
    {
      name: "no-circular",
      comment: "A cycle makes the load order decide what is undefined at start.",
      severity: "error",
      from: { path: "^(lib|mixins|models|middlewares|services)/" },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    exclude: { path: "^(node_modules|data|coverage|bench/results)/" },
  },
};
