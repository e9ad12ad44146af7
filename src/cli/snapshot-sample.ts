/**
 * The flow the start-up snapshot renders while it is built, to run every part of the renderer
 * once: all four shapes, a taskbox with sub-items, labels to wrap, edges between lanes and
 * back, a fan-out from one side, a self-lane bottom → bottom edge and a loop.
 */
export const SNAPSHOT_SAMPLE = `Customer { # Customer
  n1: circle label:"Start"
  n2: rectangle label:"Submit a request with a rather long description to wrap"
  n3: circle label:"Done"

  n1.handle(right) -> n2.handle(left)
  n2.handle(bottom) -> Service.n4.handle(top) [label="Request"]
}

Service { # Service
  n4: taskbox label:"Review|Check docs|Verify data" owner:"Support" description:"Look at the request" system:"Desk"
  n5: diamond label:"Approved?"
  n6: rectangle label:"Notify"
  n7: rectangle label:"Ask again"

  n4.handle(right) -> n5.handle(left)
  n5.handle(right) -> n6.handle(left) [label="Yes"]
  n5.handle(bottom) -> n7.handle(bottom) [label="No"]
  n5.handle(right) -> Customer.n3.handle(bottom) [label="Also"]
  n7.handle(top) -> n4.handle(top) [label="Retry"]
  n6.handle(top) -> Customer.n3.handle(left)

  loop [until approved] n4 n5 n7
}
`;
