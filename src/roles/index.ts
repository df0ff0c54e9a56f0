export { startService, type RunningService, type ServiceHooks } from './service.js';
export { startDemo, seedDemo, DEMO_DOMAIN, DEMO_PRACTICES, type RunningDemo } from './demo.js';
export { writeEndpointsFile, formatEndpointTable, type Endpoint, type EndpointsFile } from './endpoints.js';
export { startDirectory, startDirectoryFor, type RunningDirectory, type DirectoryRoleParts } from './directory.js';
export { startClientModule, type RunningClientModule, type ClientModuleParts } from './clientmodule.js';
export { startKonnektorSim, type RunningKonnektorSim, type KonnektorSimParts } from './konnektor-sim.js';
export { startPraxis, practiceFromConfig, type RunningPraxis } from './praxis.js';
