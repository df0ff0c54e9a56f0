export {
  parseKimUserName,
  formatKimUserName,
  kimUserNameForm,
  KimUserNameError,
  MAX_USER_NAME_LENGTH,
  type KimUserName,
  type KimUserNameField,
  type KimUserNameProtocol,
  type KonnektorCallContext,
} from './user-name.js';
