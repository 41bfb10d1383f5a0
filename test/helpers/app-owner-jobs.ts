/** Job files for the app-ownership refusal tests (test/unit/job-app-owners, test/integration/job-errors-lines). */

/** A job without a repo deploying `app` in its first stage's first step. */
export const owner = (name: string, team: string, app: string) => `name: ${name}
team: ${team}
stages:
  - name: pre
    environment: pre
    steps:
      - deploy: { app: ${app}, composeInline: "services: { web: { image: x } }" }
`;

/** A job with a repo: its deploy step is written as stages[1].steps[1], `app` on line 14, column 16. */
export const withRepo = (name: string, team: string, app: string) => `name: ${name}
team: ${team}
repo: { url: http://git.example/${team}/${name}.git }
stages:
  - name: build
    environment: ci
    steps:
      - compile: make
  - name: pre
    environment: pre
    steps:
      - compile: echo before
      - deploy:
          app: ${app}
          composeInline: "services: { web: { image: x } }"
`;
