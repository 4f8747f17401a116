/** Fails with the problems of an experiment file, so `nx run-many` shows them and runs nothing of it. */
export default async function configError(options: { file: string; message: string }): Promise<{ success: boolean }> {
  console.error(`${options.file} is not a valid experiment file:\n${options.message}`);
  return { success: false };
}
