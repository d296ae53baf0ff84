// What a client's sign-in and enrolment attempts are counted under.
import { describe, expect, it } from "vitest";
import { limitedBlock } from "./addressLimit";

describe("limitedBlock", () => {
  it("counts an IPv4 address as itself, and an IPv4-mapped IPv6 one as the IPv4 it maps", () => {
    expect(limitedBlock("203.0.113.7")).toBe("203.0.113.7");
    expect(limitedBlock("::ffff:203.0.113.7")).toBe("203.0.113.7");
    expect(limitedBlock("0:0:0:0:0:ffff:203.0.113.7")).toBe("203.0.113.7");
  });

  it("counts every address of an IPv6 /64 as one, however it is written", () => {
    const block = "2001:db8:aa:bb::/64";
    for (const address of ["2001:db8:aa:bb::1", "2001:0DB8:00aa:00bb:ffff:ffff:ffff:ffff", "[2001:db8:aa:bb:1:2:3:4]", "2001:db8:aa:bb:1::9%eth0"]) {
      expect(limitedBlock(address), address).toBe(block);
    }
    expect(limitedBlock("2001:db8:aa:bc::1")).not.toBe(block);
    expect(limitedBlock("::1")).toBe("0:0:0:0::/64");
    expect(limitedBlock("2001:db8::")).toBe("2001:db8:0:0::/64");
    expect(limitedBlock("::ffff:0:1.2.3.4")).not.toBe("1.2.3.4");
  });

  it("leaves what is not an address as it is (one bucket of its own)", () => {
    expect(limitedBlock("unknown-peer")).toBe("unknown-peer");
  });
});
