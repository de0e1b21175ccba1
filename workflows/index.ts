// Every workflow the worker runs; the worker bundles this file.
export * from './backup.js';
export { checkSelectionWorkflow } from './declaration.js';
export { incidentWorkflow } from './incident.js';
export { level1Workflow } from './level1.js';
export { level2Workflow } from './level2.js';
export { level3Workflow } from './level3.js';
export { level4Workflow } from './level4.js';
export { drillWorkflow } from './drill.js';
export * from './physical.js';
