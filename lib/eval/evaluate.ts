/** evaluate lives with the trainer (it validates every epoch); this is its public home in eval/. */
export * from "../train/evaluate";
