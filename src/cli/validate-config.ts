// `outrigger validate-config --config FILE`: loads an injection configuration
// exactly as `serve` does at start, and says whether it would start. The chart
// runs it as a pre-install/pre-upgrade hook on the configuration it is about to
// write, so a value the injector would refuse fails `helm install/upgrade`
// before any injector pod restarts on it.
import { ConfigSource } from '../config/watch.ts';

/** Throws the coded OUTRIGGER_INVALID_CONFIG error when the file is refused. */
export async function validateConfig(path: string): Promise<string> {
  const config = (await ConfigSource.load(path)).current;
  const layout = config.nativeSidecars ? 'native sidecars' : 'classic layout';
  return `configuration ${path} is valid (${layout}, proxy ${config.proxy.image}, init ${config.init.image})\n`;
}
