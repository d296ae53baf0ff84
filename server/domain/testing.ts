// Given/when/then for decider specs: given past events, when a command, then new events or a refusal.
import { expect } from "vitest";
import type { Decider, DomainEvent } from "../eventStore/types";
import { InvariantError, NotFoundError, ValidationError } from "../errors";
import { eventRegistry } from "./registry";

export function given<C, E extends DomainEvent, S>(decider: Decider<C, E, S>, events: readonly E[] = []) {
  const state = events.reduce(decider.evolve, decider.initialState());
  return {
    state,
    when(command: C) {
      const run = () => decider.decide(command, state);
      return {
        /**
         * Asserts the events and that each passes its schema (what the store will demand), then
         * returns the state after them, checked to survive a JSON snapshot round trip.
         */
        then(expected: readonly E[]): S {
          const actual = run();
          expect(actual).toEqual(expected);
          for (const event of actual) eventRegistry.encode(event);
          const next = actual.reduce(decider.evolve, state);
          expect(JSON.parse(JSON.stringify(next))).toEqual(next);
          return next;
        },
        /** Refused by a business rule: an InvariantError with this rule code. */
        thenThrows(rule: string): void {
          expect(run).toThrow(InvariantError);
          expect(run).toThrow(expect.objectContaining({ rule }));
        },
        thenThrowsNotFound(entity: string, id?: string): void {
          expect(run).toThrow(NotFoundError);
          expect(run).toThrow(expect.objectContaining(id === undefined ? { entity } : { entity, id }));
        },
        thenThrowsValidation(field?: string): void {
          expect(run).toThrow(ValidationError);
          if (field !== undefined) expect(run).toThrow(expect.objectContaining({ field }));
        },
      };
    },
  };
}
