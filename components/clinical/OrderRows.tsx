// The cells and rows that the chart's order tables and the worklist share.
import { DateTime } from "@/components/DateTime";
import { OrderStatusChange } from "./OrderStatusChange";
import type { OrderRef } from "./types";

/** The "Ordered" (when, by whom) and "Scheduled" cells. */
export function OrderTimeCells({ order }: { order: { createdAt: Date; providerName: string | null; scheduledFor: Date | null } }) {
  return (
    <>
      <td className="nowrap small" data-label="Ordered">
        <DateTime value={order.createdAt} precision="minute" />
        {order.providerName ? <div className="muted">{order.providerName}</div> : null}
      </td>
      <td className="nowrap small" data-label="Scheduled">
        {order.scheduledFor ? <DateTime value={order.scheduledFor} precision="minute" /> : <span className="muted">—</span>}
      </td>
    </>
  );
}

/** The last cell: "Change status" while the order can move on and its form is closed. */
export function ChangeStatusCell({ show, name, onOpen }: { show: boolean; name: string; onOpen: () => void }) {
  return (
    <td className="actions-cell">
      {show ? (
        <button type="button" className="secondary small" onClick={onOpen} aria-label={name}>
          Change status
        </button>
      ) : null}
    </td>
  );
}

/** The row under an order that holds its status-change form. */
export function StatusChangeRow({
  colSpan,
  order,
  onDone,
  onClose,
}: {
  colSpan: number;
  order: OrderRef;
  onDone: (message: string) => void;
  onClose: () => void;
}) {
  return (
    <tr className="expand-row">
      <td colSpan={colSpan}>
        <OrderStatusChange order={order} onDone={onDone} onClose={onClose} />
      </td>
    </tr>
  );
}
