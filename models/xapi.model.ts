/** GET /me/xapi: xAPI 1.0.3 statements (the members this service writes). */

interface LanguageMap {
  [language: string]: string;
}

interface Activity {
  objectType: "Activity";
  id: string;
  definition: { type: string; name?: LanguageMap };
}

export interface XapiStatement {
  id: string;
  actor: { objectType: "Agent"; account: { homePage: string; name: string } };
  verb: { id: string; display: LanguageMap };
  object: Activity;
  result?: {
    success?: boolean;
    completion?: boolean;
    response?: string;
    score?: { scaled: number; raw?: number; min?: number; max?: number };
  };
  context: {
    platform: string;
    language: string;
    contextActivities?: { parent: Activity[] };
  };
  timestamp: string;
  version: "1.0.3";
}

export interface XapiStatements {
  statements: XapiStatement[];
}
