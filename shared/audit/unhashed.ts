// What the verification says about events written before tamper evidence that no hash covers
// (an install sealed before its upgrade could hash them: migration 20261208020000): the same
// words in `npm run audit:verify` and on the console's Integrity page.

/** The warning for `count` events without a hash. */
export function notCovered(count: number): string {
  const events = count === 1 ? "1 event" : `${count.toLocaleString("en")} events`;
  return (
    `${events} from before hashing carry no hash: a change to ${count === 1 ? "its" : "their"} content would not be found ` +
    "(a deleted, added or reordered event still is, by the seals)"
  );
}
