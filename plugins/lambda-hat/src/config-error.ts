/** Fails with the problems of an experiment or tuning file, so `nx run-many` shows them and runs nothing of it. */
export default async function configError(options: { file: string; message: string }): Promise<{ success: boolean }> {
  console.error(`${options.file} is not valid:\n${options.message}`);
  return { success: false };
}
