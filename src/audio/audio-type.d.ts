/** audio-type (used by audio-decode to detect the format) ships no types. */
declare module 'audio-type' {
  /** 'wav', 'flac', 'mp3', 'oga', 'opus', 'm4a', 'webm', ... from the first bytes; undefined when unknown. */
  export default function audioType(bytes: Uint8Array): string | undefined;
}
