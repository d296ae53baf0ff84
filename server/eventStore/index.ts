export * from "./types";
export * from "./serializer";
export * from "./db";
export * from "./append";
export * from "./read";
export * from "./snapshots";
export * from "./aggregate";
export * from "./ids";
