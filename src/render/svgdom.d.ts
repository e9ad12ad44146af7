// svgdom ships no type declarations; this is the one function the SVG writer uses.
declare module 'svgdom' {
  export function createSVGWindow(): Window;
}
