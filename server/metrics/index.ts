export * from "./registry";
export * from "./database";
export * from "./rollups";
export * from "./expose";
export { addToMinute, setInMinute } from "./minute";
