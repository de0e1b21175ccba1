// The demo CRM as a configuration's `crm` target, for the tests and the history recorder alike
// (no vitest import here: the recorder runs outside the test runner).
export const CRM_TARGET_YAML = `  crm:
    urlEnv: CRM_DATABASE_URL
    store: main
    verifyOn: production
    tables: [crm_agents, crm_leads, crm_activities, crm_reminders, crm_lead_notes, crm_notifications]
    integrityChecks:
      - name: activities of a missing lead
        sql: SELECT count(*) FROM crm_activities x WHERE NOT EXISTS (SELECT 1 FROM crm_leads l WHERE l.id = x.lead_id)`;
